// Test images and registries, built and run offline: scripts/images/build-busybox.sh (busybox-static + umoci) and
// scripts/images/serve-registry.sh (Debian's docker-registry on 127.0.0.1); the demo uses the same scripts.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { REPO } from './agent.js';
import { waitFor } from './wait.js';
import { toolSkip, toolSkipReason } from './env.js';
import { freePort } from './free-port.js';

const run = promisify(execFile);

/** What the image tests need on PATH; skip with toolSkip(IMAGE_TOOLS) when missing. */
export const IMAGE_TOOLS = ['skopeo', 'umoci', 'docker-registry', 'busybox', 'htpasswd'];

export function imageToolSkip(): { skip: string } | Record<string, never> {
  return toolSkip(IMAGE_TOOLS);
}

export function imageToolSkipReason(): string | false {
  return toolSkipReason(IMAGE_TOOLS);
}

const BUILD = join(REPO, 'scripts/images/build-busybox.sh');
const SERVE = join(REPO, 'scripts/images/serve-registry.sh');

/**
 * An OCI layout with the fixture images (tags "1" and "nginx", sharing their busybox layer), built once per test
 * process under a temp dir removed at exit.
 */
let built: Promise<string> | null = null;
export function busyboxLayout(): Promise<string> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rs-img-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const layout = join(dir, 'oci');
    await run('bash', [BUILD, layout]);
    return layout;
  })();
  return built;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface TestRegistry {
  /** "127.0.0.1:PORT" */
  host: string;
  port: number;
  proc: ChildProcess;
  /** Stops the registry (SIGTERM, then waits for it); keeps its storage. */
  stop(): Promise<void>;
  /** Stops it and removes its storage. */
  close(): Promise<void>;
}

/** Starts docker-registry on a free 127.0.0.1 port; with creds, pulls and pushes need basic auth (bcrypt htpasswd). */
export async function startRegistry(opts: { creds?: Credentials } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-registry-'));
  const args = [SERVE, dir];
  let htpasswd: string | null = null;
  if (opts.creds) {
    const { stdout } = await run('htpasswd', ['-Bbn', opts.creds.username, opts.creds.password]);
    htpasswd = join(dir, 'htpasswd');
    writeFileSync(htpasswd, stdout, { mode: 0o600 });
  }
  const port = await freePort();
  args.push(String(port));
  if (htpasswd) args.push(htpasswd);
  const proc = spawn('bash', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
  };
  const host = `127.0.0.1:${port}`;
  try {
    await waitFor(`docker-registry on ${host} (stderr: ${stderr})`, async () => {
      if (proc.exitCode !== null) throw new Error(`docker-registry exited ${proc.exitCode}: ${stderr}`);
      const r = await fetch(`http://${host}/v2/`).catch(() => null);
      return r !== null && (r.status === 200 || r.status === 401);
    }, { timeoutMs: 10_000, intervalMs: 50 });
  } catch (err) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host,
    port,
    proc,
    stop,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Pushes tag of the fixture layout to registry as repoTag ("busybox:1", "library/busybox:latest"). */
export async function pushImage(registry: TestRegistry, tag: string, repoTag: string, creds?: Credentials): Promise<void> {
  const layout = await busyboxLayout();
  // Test-only: the fixture's own password in argv is fine here (the product passes credentials in an authfile).
  const auth = creds ? ['--dest-creds', `${creds.username}:${creds.password}`] : [];
  await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', ...auth, `oci:${layout}:${tag}`, `docker://${registry.host}/${repoTag}`]);
}

/** The manifest digest the registry serves for repoTag (from the registry's own header). */
export async function registryDigest(registry: TestRegistry, repo: string, tag: string): Promise<string> {
  const r = await fetch(`http://${registry.host}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  const d = r.headers.get('docker-content-digest');
  if (!r.ok || !d) throw new Error(`no digest for ${repo}:${tag} on ${registry.host}: HTTP ${r.status}`);
  return d;
}
