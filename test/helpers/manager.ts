// Test helper: a real manager process on a temporary state dir, Unix socket and loopback TCP port.
//
//   const m = await startManager({ t });          // t (optional): tears the manager down after the test
//   await request(m.socket, 'GET', '/secrets');   // node:http over the socket, JSON parsed when possible
//   DOCKER_HOST=m.dockerHost                      // for the docker CLI
//   m.adminCertDir                                // ca.pem, cert.pem, key.pem of an admin client certificate
//   await m.restart(); await m.kill9(); await m.stop(); await m.cleanup();
//
// Needs the build (dist/) and root (the manager's socket and files are root-only).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(REPO_ROOT, 'bin', 'runsecrets');

export interface StartOptions {
  /** Init with --autolock. The first start is unlocked (init leaves the key for it, as Docker's swarm is unlocked
   * until its next restart); restart() leaves it locked unless asked. */
  autolock?: boolean;
  /** Leave an autolocked manager locked on the first start too, as after a restart (the key init left for the
   * first run is removed first; no admin certificate is issued then). */
  startLocked?: boolean;
  /** Serve TCP with mutual TLS on 127.0.0.1 (default true). */
  tcp?: boolean;
  /** The TCP listener's address (default 127.0.0.1); e.g. 0.0.0.0 for agents in network namespaces. */
  listenHost?: string;
  /** The TCP listener's port (default: a free one the kernel picks), e.g. one announced beforehand. */
  listenPort?: number;
  /** Serve this existing state dir (e.g. a restored or fixture one) instead of making one with `manager init`;
   * workerToken is then read with `join-token -q`, unlockKey is null. */
  stateDir?: string;
  /** Extra arguments for `manager init` (e.g. ['--dispatcher-heartbeat', '15s']). */
  initArgs?: string[];
  /** Extra arguments for `manager run` (e.g. ['--registry-mirror', 'http://127.0.0.1:5000'], ['--metrics-listen', '127.0.0.1:0']). */
  runArgs?: string[];
  /** Extra environment for the manager process (e.g. RUNSECRETS_HEARTBEAT_MS). */
  env?: NodeJS.ProcessEnv;
  logLevel?: string;
  /** Tap test (anything with teardown()): the manager is stopped and its temp dir removed after the test. */
  t?: { teardown(fn: () => unknown): void };
}

export interface RestartOptions {
  /** With autolock, unlock after the restart (default false: a restarted autolocked manager stays locked). */
  unlock?: boolean;
}

export interface ManagerHandle {
  dir: string; // temp dir holding everything below
  stateDir: string;
  socket: string;
  dockerHost: string; // unix://<socket>
  tcpPort: number; // 0 when tcp is off (or while an autolocked manager has never been unlocked)
  adminCertDir: string; // ca.pem, cert.pem, key.pem; empty until issued
  unlockKey: string | null;
  workerToken: string;
  initOutput: string;
  pid(): number | null;
  logs(): string;
  /** SIGTERM, waits for exit, returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, waits for exit. */
  kill9(): Promise<void>;
  /** Stops if running (SIGTERM), then starts again on the same state dir, socket and port. */
  restart(opts?: RestartOptions): Promise<void>;
  /** Unlocks through `runsecrets manager unlock` (key on stdin); resolves to its exit code, stdout and stderr. */
  unlock(key?: string): Promise<CliResult>;
  /** Runs `runsecrets ARGS` with this manager's socket in the environment. */
  cli(args: string[], input?: string | Buffer): Promise<CliResult>;
  /** Stops and removes the temp dir. */
  cleanup(): Promise<void>;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: unknown;
}

/** One request over the Unix socket. `body`: an object (sent as JSON), a string or a Buffer (sent as is). */
export function request(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string | number> = {},
): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    let payload: Buffer | undefined;
    const h: Record<string, string | number> = { ...headers };
    if (body !== undefined) {
      payload = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      if (!('Content-Type' in h)) h['Content-Type'] = 'application/json';
      if (!('Content-Length' in h) && !('Transfer-Encoding' in h)) h['Content-Length'] = payload.length;
    }
    const req = http.request({ socketPath: socket, method, path, headers: h, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = undefined;
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The environment for our child processes, without the test runner's loaders (tap sets NODE_OPTIONS). */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

/** Command and arguments that run `runsecrets ARGS` in a plain node: tap re-adds NODE_OPTIONS to every child it
 * sees spawned, so `env -u` drops it in the child itself (env then execs node, keeping the pid). */
export function runsecretsCommand(args: string[]): [string, string[]] {
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, ...args]];
}

export function runCli(args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = runsecretsCommand(args);
    const child = spawn(cmd, argv, { env: childEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => undefined); // the command may not read its stdin
    child.stdin.end(opts.input);
  });
}

/** Polls fn until it returns a truthy value; no fixed sleeps. */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}

function tcpPortFromLogs(logs: string): number {
  for (const line of logs.split('\n')) {
    if (!line.includes('mutual TLS')) continue;
    try {
      const o = JSON.parse(line) as { port?: number };
      if (typeof o.port === 'number') return o.port;
    } catch {
      // not a JSON line
    }
  }
  return 0;
}

export async function startManager(opts: StartOptions = {}): Promise<ManagerHandle> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/cli/main.js is missing: build first (npx tsc -p tsconfig.json)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'rsm-'));
  const stateDir = opts.stateDir ?? join(dir, 'state');
  const socket = join(dir, 'manager.sock');
  const tcp = opts.tcp ?? true;
  const init = opts.stateDir
    ? { code: 0, stdout: '', stderr: '' }
    : await runCli(['manager', 'init', '--state-dir', stateDir, '--advertise-addr', '127.0.0.1:2377', ...(opts.autolock ? ['--autolock'] : []), ...(opts.initArgs ?? [])]);
  if (init.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`manager init failed (${String(init.code)}): ${init.stderr}`);
  }
  const unlockKey = /RSKEY-1-[A-Za-z0-9+/]+/.exec(init.stdout)?.[0] ?? null;
  const workerToken = /RSTKN-1-[0-9a-z]+-[0-9a-z]+/.exec(init.stdout)?.[0] ?? '';

  let child: ChildProcess | null = null;
  let logs = '';
  let exited: Promise<number | null> = Promise.resolve(null);

  const handle: ManagerHandle = {
    dir,
    stateDir,
    socket,
    dockerHost: `unix://${socket}`,
    tcpPort: opts.listenPort ?? 0,
    adminCertDir: '',
    unlockKey,
    workerToken,
    initOutput: init.stdout,
    pid: () => child?.pid ?? null,
    logs: () => logs,
    cli: (args, input) => runCli(args, { input, env: { DOCKER_HOST: `unix://${socket}`, RUNSECRETS_HOST: `unix://${socket}` } }),
    async unlock(key) {
      const r = await runCli(['manager', 'unlock', '--socket', socket], { input: `${key ?? unlockKey ?? ''}\n` });
      if (r.code === 0 && tcp && handle.tcpPort === 0) {
        handle.tcpPort = await waitFor(() => tcpPortFromLogs(logs), 'the TCP listener');
      }
      return r;
    },
    async stop() {
      if (!child) return null;
      child.kill('SIGTERM');
      const code = await exited;
      child = null;
      return code;
    },
    async kill9() {
      if (!child) return;
      child.kill('SIGKILL');
      await exited;
      child = null;
    },
    async restart(ro = {}) {
      await handle.stop();
      await launch();
      if (opts.autolock && ro.unlock) {
        const r = await handle.unlock();
        if (r.code !== 0) throw new Error(`unlock after restart failed: ${r.stderr}`);
      }
    },
    async cleanup() {
      await handle.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };

  /** Starts the process; `unlocked`: it opens its store at start (no autolock, or the first run after init). */
  async function launch(unlocked = !opts.autolock): Promise<void> {
    const listen = tcp ? `${opts.listenHost ?? '127.0.0.1'}:${handle.tcpPort}` : 'none';
    const [cmd, argv] = runsecretsCommand(['manager', 'run', '--state-dir', stateDir, '--socket', socket, '--listen', listen, '--log-level', opts.logLevel ?? 'debug', ...(opts.runArgs ?? [])]);
    const c = spawn(cmd, argv, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: childEnv(opts.env),
    });
    child = c;
    logs = '';
    c.stderr!.on('data', (b: Buffer) => (logs += b.toString()));
    // 'close', not 'exit': by then every log line the manager wrote before exiting has been read.
    exited = new Promise((resolve) => c.once('close', (code, sig) => resolve(code ?? (sig ? 128 : null))));
    let gone = false;
    void exited.then(() => (gone = true));
    await waitFor(async () => {
      if (gone) throw new Error(`manager exited during start-up:\n${logs}`);
      return (await request(socket, 'GET', '/_ping')).status === 200;
    }, 'the manager to answer /_ping');
    if (tcp && handle.tcpPort === 0 && unlocked) {
      handle.tcpPort = await waitFor(() => tcpPortFromLogs(logs), 'the TCP listener');
    }
  }

  opts.t?.teardown(() => handle.cleanup());
  try {
    if (opts.autolock && opts.startLocked) rmSync(join(stateDir, 'unlock-key.first-run'), { force: true });
    await launch(!(opts.autolock && opts.startLocked));
    if (!(opts.autolock && opts.startLocked)) {
      const certDir = join(dir, 'admin-cert');
      const r = await runCli(['manager', 'cert', 'admin', '--out', certDir, '--socket', socket]);
      if (r.code !== 0) throw new Error(`manager cert admin failed: ${r.stderr}`);
      handle.adminCertDir = certDir;
      if (opts.stateDir) handle.workerToken = (await handle.cli(['manager', 'join-token', '-q', 'worker', '--socket', socket])).stdout.trim();
    }
  } catch (err) {
    await handle.cleanup();
    throw err;
  }
  return handle;
}

/** True when the tests run as root (the manager's files and socket are root-only). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Does `docker` exist on PATH? (for comparison tests) */
export function haveDocker(): boolean {
  return spawnSync('docker', ['--version'], { stdio: 'ignore' }).status === 0;
}
