// `runsecrets version`, `-v`, `--version`: the package's version, read from the package.json shipped next to dist/
// (one source of truth for npm and the binary), with the Node runtime, since the native SQLite binding is built
// for one Node ABI.
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  // dist/cli/version.js -> ../../package.json, in the repository and in an installed package alike.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error('package.json has no version');
  return pkg.version;
}

export function versionText(): string {
  return `runsecrets version ${packageVersion()} (node ${process.version}, ${process.platform}/${process.arch})`;
}
