// What the cluster benchmarks share: a real manager and real agents on this machine (temp mounts and state dirs),
// the manager's API over its Unix socket, polling, percentiles, and a cleanup that leaves no process or mount.
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync, chmodSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'runsecrets');

export const sleepBuf = new Int32Array(new SharedArrayBuffer(4));
export const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.RUNSECRETS_HEARTBEAT_MS; // the default heartbeat
  return env;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function call(socket: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      { socketPath: socket, method, path, agent: false, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export async function api<T>(socket: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await call(socket, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.json as T;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 120_000, step = 100): Promise<T> {
  const end = Date.now() + ms;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
    await sleepMs(step);
  }
}

export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export function isMounted(path: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === path);
  } catch {
    return false;
  }
}

// ---- everything started, for the cleanup ----
export interface Proc {
  name: string;
  args: string[];
  proc: ChildProcess;
  exited: Promise<void>;
  stderr: string;
  /** Every warn/error log line (the first 1,000), kept whole: the scale check looks for false downs in them. */
  warnings: string[];
}
export const procs: Proc[] = [];
/** BENCH_STDERR_LOG=FILE: every child's stderr, each line prefixed with its name (h1, manager, ...). */
const PROBE_LOG = process.env.BENCH_STDERR_LOG ? createWriteStream(process.env.BENCH_STDERR_LOG) : undefined;
const dirs: string[] = [];
const mounts: string[] = [];

/** BENCH_PROBE=1: every manager and agent reports its event-loop delay and pool wait on stderr (loop-probe.ts). */
const PROBE = process.env.BENCH_PROBE ? ['--import', fileURLToPath(new URL('./loop-probe.js', import.meta.url))] : [];

export function start(name: string, args: string[], nodeArgs: string[] = []): Proc {
  // The probe is loaded before bin/runsecrets sizes the agent's pool (its first file read starts the pool): size it
  // here as the entry would, or the measured agent is not the real one.
  const env = PROBE.length > 0 && args[0] === 'agent' ? { ...childEnv(), UV_THREADPOOL_SIZE: '32' } : childEnv();
  const proc = spawn(process.execPath, [...nodeArgs, ...PROBE, BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  const p: Proc = { name, args, proc, exited: new Promise((r) => proc.once('exit', () => r())), stderr: '', warnings: [] };
  let partial = '';
  proc.stderr!.on('data', (b: Buffer) => {
    p.stderr = (p.stderr + b.toString()).slice(-20000);
    const lines = (partial + b.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (/"level":"(warn|error|fatal)"/.test(l) && p.warnings.length < 1000) p.warnings.push(l);
    if (PROBE_LOG) PROBE_LOG.write(b.toString().split('\n').filter((l) => l).map((l) => `${name} ${l}\n`).join(''));
  });
  procs.push(p);
  return p;
}

export async function stop(p: Proc, graceMs = 20_000): Promise<void> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.proc.kill('SIGTERM');
  const t = setTimeout(() => p.proc.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(t);
}

let cleaning: Promise<void> | undefined;
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    // Agents first (they stop their tasks and unmount on SIGTERM), in parallel; then the manager.
    await Promise.all(procs.filter((p) => p.name !== 'manager').map((p) => stop(p)));
    await Promise.all(procs.filter((p) => p.name === 'manager').map((p) => stop(p)));
    procs.length = 0;
    for (const m of mounts) {
      if (isMounted(m)) {
        console.error(`mount left at ${m}: lazy unmount`);
        try {
          execFileSync('umount', ['-l', m], { stdio: 'ignore' });
        } catch {
          /* already gone */
        }
      }
    }
    mounts.length = 0;
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    dirs.length = 0;
  })();
  const c = cleaning;
  return c.finally(() => {
    if (cleaning === c) cleaning = undefined;
  });
}

// ---- a cluster ----
export interface ClusterOptions {
  /** Extra arguments for `manager run`. */
  managerArgs?: string[];
  /** Extra arguments for agent i's `agent run` (1-based), e.g. its runtime; default `--runtime process` (the
   * benchmarks' tasks are host commands). */
  agentArgs?: (i: number) => string[];
}

export interface Cluster {
  socket: string;
  /** The manager's session port (127.0.0.1) and worker join token: for simulated agents (agent-sim.ts). */
  port: number;
  token: string;
  manager: Proc;
  agents: Array<{ host: string; mount: string; p: Proc }>;
}

export async function startCluster(nAgents: number, opts: ClusterOptions = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-cbench-'));
  dirs.push(dir);
  chmodSync(dir, 0o755);
  const state = join(dir, 'manager');
  const socket = join(dir, 'm.sock');
  const port = await freePort();
  const init = spawnSync(process.execPath, [BIN, 'manager', 'init', '--state-dir', state, '--advertise-addr', `127.0.0.1:${port}`], { env: childEnv() });
  if (init.status !== 0) throw new Error(`manager init failed: ${init.stderr.toString()}`);
  const token = /RSTKN-1-[0-9a-z]+-[0-9a-z]+/.exec(init.stdout.toString())?.[0];
  if (!token) throw new Error(`no worker token in: ${init.stdout.toString()}`);
  // BENCH_MANAGER_NODE_ARGS: node options for the manager alone, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const managerNode = (process.env.BENCH_MANAGER_NODE_ARGS ?? '').split(' ').filter((a) => a);
  const manager = start('manager', ['manager', 'run', '--state-dir', state, '--socket', socket, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', ...(opts.managerArgs ?? [])], managerNode);
  await waitFor('the manager', async () => (await call(socket, 'GET', '/_ping')).status === 200, 30_000, 50);
  const agents: Cluster['agents'] = [];
  for (let i = 1; i <= nAgents; i++) {
    const host = `h${i}`;
    const mount = join(dir, host, 'mnt');
    mkdirSync(mount, { recursive: true });
    mounts.push(mount);
    const tokenFile = join(dir, host, 'join-token');
    writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
    const p = start(host, ['agent', 'run', '--manager', `127.0.0.1:${port}`, '--token-file', tokenFile, '--mount', mount, '--state-dir', join(dir, host, 'state'), '--hostname', host, '--log-level', process.env.BENCH_AGENT_LOG ?? 'warn', ...(opts.agentArgs?.(i) ?? ['--runtime', 'process'])]);
    agents.push({ host, mount, p });
  }
  await waitFor(`${nAgents} ready nodes`, async () => {
    for (const a of agents) if (a.p.proc.exitCode !== null) throw new Error(`agent ${a.host} exited: ${a.p.stderr}`);
    const nodes = await api<Array<{ Description: { Hostname: string }; Status: { State: string } }>>(socket, 'GET', '/nodes');
    const ready = nodes.filter((n) => n.Status.State === 'ready' && /^h\d+$/.test(n.Description.Hostname)).length;
    return ready === nAgents && agents.every((a) => isMounted(a.mount));
  }, Math.max(120_000, nAgents * 15_000), 200); // 20 agents starting at once on 2 busy cores took 95 s to join
  return { socket, port, token, manager, agents };
}

export async function createSecret(socket: string, name: string, value: string): Promise<string> {
  return (await api<{ ID: string }>(socket, 'POST', '/secrets/create', { Name: name, Labels: {}, Data: Buffer.from(value).toString('base64') })).ID;
}

/** The bench measures grants and revokes delivered in place (docs/updates.md: the `live` secret-update mode). */
export function serviceSpec(name: string, replicas: number, secrets: Array<{ id: string; name: string; target: string }>): Record<string, unknown> {
  return {
    Name: name,
    Labels: { 'com.runsecrets.secret-update': 'live' },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'none',
        Command: ['sleep', '1d'],
        StopGracePeriod: 1_000_000_000,
        Secrets: secrets.map((s) => ({ SecretID: s.id, SecretName: s.name, File: { Name: s.target, UID: '0', GID: '0', Mode: 0o444 } })),
      },
    },
    Mode: { Replicated: { Replicas: replicas } },
  };
}
