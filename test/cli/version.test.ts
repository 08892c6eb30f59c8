// `runsecrets version`, `-v` and `--version`: the package.json version (one source for npm and the binary), exit 0.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, runCli } from '../helpers/manager.js';

const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

t.test('version, -v and --version print the same line and exit 0', async (t) => {
  const want = `runsecrets version ${version} (node ${process.version}, ${process.platform}/${process.arch})\n`;
  for (const args of [['version'], ['-v'], ['--version']]) {
    const r = await runCli(args);
    t.equal(r.code, 0, `${args.join(' ')}: exit 0`);
    t.equal(r.stdout, want, `${args.join(' ')}: the version line`);
    t.equal(r.stderr, '');
  }
});

t.test('help lists the version command', async (t) => {
  const r = await runCli(['--help']);
  t.match(r.stdout, /version\s+Show the runsecrets version/);
  t.match(r.stdout, /-v, --version\s+output the version/);
});
