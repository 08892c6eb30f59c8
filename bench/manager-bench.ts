// Manager benchmark: secret creates per second over the Unix socket at concurrency 1 and 16, side by side with
// Debian's etcd (started here on loopback, in a temp dir) taking puts of the same size at the same concurrency;
// then the time of `secret ls` with 10,000 secrets. Every acknowledged write is fsynced on both sides (our store:
// WAL + synchronous=FULL, one fsync per group commit; etcd: its WAL fsync).
// Run: node dist/bench/manager-bench.js [--quick]   (root; etcd from `apt-get install etcd-server`)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { freePort } from './lib/cluster.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'runsecrets');
const QUICK = process.argv.includes('--quick');
const PAYLOAD = 256; // bytes per secret / per etcd value
const N = { c1: QUICK ? 300 : 1000, c16: QUICK ? 2000 : 6000 };
const LS_COUNT = 10_000;
const ROUNDS = QUICK ? 1 : 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** User + system CPU of a process and all its threads, in ms (from /proc; 0 if unreadable). */
function procCpuMs(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(fn: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function call(agent: http.Agent, socket: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      { socketPath: socket, method, path, agent, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs `total` operations with `concurrency` in flight; returns operations per second. */
async function drive(total: number, concurrency: number, op: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        await op(i);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  return total / secs;
}

interface Manager {
  socket: string;
  proc: ChildProcess;
  dir: string;
}

async function startManager(): Promise<Manager> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-bench-'));
  const state = join(dir, 'state');
  const socket = join(dir, 'm.sock');
  const init = spawnSync(process.execPath, [BIN, 'manager', 'init', '--state-dir', state, '--advertise-addr', '127.0.0.1:2377']);
  if (init.status !== 0) throw new Error(`manager init failed: ${init.stderr.toString()}`);
  const proc = spawn(process.execPath, [BIN, 'manager', 'run', '--state-dir', state, '--socket', socket, '--listen', 'none', '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const agent = new http.Agent({ keepAlive: false });
  await waitFor(async () => (await call(agent, socket, 'GET', '/_ping')).status === 200, 'the manager');
  return { socket, proc, dir };
}

const NOOP_SERVER = `
const http = require('node:http');
const s = http.createServer((req, res) => {
  const c = [];
  req.on('data', (d) => c.push(d));
  req.on('end', () => {
    JSON.parse(Buffer.concat(c).toString());
    const t = '{"ID":"0000000000000000000000000"}\\n';
    res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': t.length });
    res.end(t);
  });
});
s.listen(process.argv[1]);
`;

async function startNoopServer(): Promise<Manager> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-noop-'));
  const socket = join(dir, 'noop.sock');
  const proc = spawn(process.execPath, ['-e', NOOP_SERVER, socket], { stdio: ['ignore', 'ignore', 'inherit'] });
  const agent = new http.Agent({ keepAlive: false });
  await waitFor(async () => (await call(agent, socket, 'POST', '/', {})).status === 201, 'the no-op server');
  return { socket, proc, dir };
}

async function stopProc(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await done;
}

async function managerCreates(m: Manager, total: number, concurrency: number, prefix: string): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const data = randomBytes(PAYLOAD).toString('base64');
  const rate = await drive(total, concurrency, async (i) => {
    const r = await call(agent, m.socket, 'POST', '/v1.47/secrets/create', { Name: `${prefix}-${i}`, Labels: {}, Data: data });
    if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.text}`);
  });
  agent.destroy();
  return rate;
}

interface Etcd {
  proc: ChildProcess;
  endpoint: string;
  dir: string;
}

async function startEtcd(): Promise<Etcd | null> {
  const bin = ['/usr/bin/etcd', '/usr/local/bin/etcd'].find((p) => existsSync(p));
  if (!bin) return null;
  const dir = mkdtempSync(join(tmpdir(), 'etcd-bench-'));
  const [cport, pport] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${cport}`;
  const proc = spawn(
    bin,
    [
      '--name', 'bench', '--data-dir', join(dir, 'data'),
      '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${pport}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${pport}`,
      '--initial-cluster', `bench=http://127.0.0.1:${pport}`, '--log-level', 'error',
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        http.get(`${endpoint}/health`, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        }).on('error', () => resolve(false));
      }),
    'etcd',
  );
  return { proc, endpoint, dir };
}

async function etcdPuts(e: Etcd, total: number, concurrency: number, prefix: string): Promise<number> {
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({ hosts: e.endpoint });
  const value = randomBytes(PAYLOAD);
  await client.put(`${prefix}/warmup`).value(value);
  const rate = await drive(total, concurrency, async (i) => {
    await client.put(`${prefix}/${i}`).value(value);
  });
  client.close();
  return rate;
}

function timeCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv): { ms: number; ok: boolean; lines: number } {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, ok: r.status === 0, lines: r.stdout ? r.stdout.toString().split('\n').length - 1 : 0 };
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  let m = await startManager();
  const etcd = await startEtcd();
  try {
    // warm up both (JIT, first fsync of new files)
    await managerCreates(m, 50, 4, 'warm');
    // Rounds alternate between the two systems, and the median is reported: the machine is shared and noisy.
    const results: Record<string, { ours: number; etcd: number | null }> = {};
    for (const [label, c, total] of [['1', 1, N.c1], ['16', 16, N.c16]] as const) {
      const ours: number[] = [];
      const theirs: number[] = [];
      const cpuOurs: number[] = [];
      const cpuEtcd: number[] = [];
      const cliOurs: number[] = [];
      const cliEtcd: number[] = [];
      const clientMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
      for (let round = 0; round < ROUNDS; round++) {
        let t0 = procCpuMs(m.proc.pid);
        let u0 = process.cpuUsage();
        ours.push(await managerCreates(m, total, c, `c${c}r${round}`));
        cpuOurs.push((procCpuMs(m.proc.pid) - t0) / total);
        cliOurs.push(clientMs(process.cpuUsage(u0)) / total);
        if (etcd) {
          t0 = procCpuMs(etcd.proc.pid);
          u0 = process.cpuUsage();
          theirs.push(await etcdPuts(etcd, total, c, `/bench/c${c}r${round}`));
          cpuEtcd.push((procCpuMs(etcd.proc.pid) - t0) / total);
          cliEtcd.push(clientMs(process.cpuUsage(u0)) / total);
        }
      }
      const o = median(ours);
      const e = etcd ? median(theirs) : null;
      results[label] = { ours: o, etcd: e };
      rows.push([
        `secret create, concurrency ${label}`,
        `${fmt(o)}/s (CPU ms/op: server ${median(cpuOurs).toFixed(2)}, client ${median(cliOurs).toFixed(2)})`,
        e === null ? 'etcd missing' : `${fmt(e)}/s (CPU ms/op: server ${median(cpuEtcd).toFixed(2)}, client ${median(cliEtcd).toFixed(2)})`,
        e === null ? '-' : `${(o / e).toFixed(2)}x`,
      ]);
      process.stderr.write(`concurrency ${label}: ours ${ours.map(fmt).join(', ')}; etcd ${theirs.map(fmt).join(', ')}\n`);
    }
    // The ceiling of this client and transport: a node:http server that parses the body and answers at once,
    // no store, no fsync. Whatever the manager does, it cannot pass this on the same machine.
    const noop = await startNoopServer();
    try {
      const rate = await managerCreates({ socket: noop.socket, proc: noop.proc, dir: noop.dir }, N.c16, 16, 'noop');
      rows.push(['(ceiling) node:http no-op server, same client, concurrency 16', `${fmt(rate)}/s`, '', '']);
    } finally {
      await stopProc(noop.proc);
      rmSync(noop.dir, { recursive: true, force: true });
    }

    // secret ls with exactly 10,000 secrets: a fresh manager, filled at concurrency 16
    await stopProc(m.proc);
    rmSync(m.dir, { recursive: true, force: true });
    m = await startManager();
    await managerCreates(m, LS_COUNT, 16, 'ls');
    const agent = new http.Agent({ keepAlive: false });
    const t0 = process.hrtime.bigint();
    const ls = await call(agent, m.socket, 'GET', '/v1.47/secrets');
    const apiMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const count = (JSON.parse(ls.text) as unknown[]).length;
    rows.push([`GET /secrets (API) with ${count} secrets`, `${apiMs.toFixed(0)} ms`, '', '']);
    const cli = timeCommand(process.execPath, [BIN, 'secret', 'ls'], { RUNSECRETS_HOST: `unix://${m.socket}` });
    if (cli.ok && cli.lines > count) rows.push([`runsecrets secret ls (table), ${count} secrets`, `${cli.ms.toFixed(0)} ms`, '', '']);
    const dk = spawnSync('docker', ['--version']).status === 0 ? timeCommand('docker', ['secret', 'ls'], { DOCKER_HOST: `unix://${m.socket}` }) : null;
    if (dk?.ok) rows.push([`docker secret ls (stock CLI), ${count} secrets`, `${dk.ms.toFixed(0)} ms`, '', '']);

    const table = [
      `| measure (payload ${PAYLOAD} B, every write fsynced; median of ${ROUNDS}) | runsecrets manager (node:http client) | etcd ${etcdVersion()} (etcd3 gRPC client) | ratio |`,
      '|---|---|---|---|',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
    const c16 = results['16'];
    const verdict =
      c16 && c16.etcd ? `\nTarget (concurrency 16 >= 2x etcd): ${c16.ours >= 2 * c16.etcd ? 'met' : 'NOT met'} (${(c16.ours / c16.etcd).toFixed(2)}x)\n` : '\n';
    const text = `## Manager\n\n${table}\n${verdict}`;
    process.stdout.write(text);
    mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'out', 'manager.md'), text);
  } finally {
    await stopProc(m.proc);
    rmSync(m.dir, { recursive: true, force: true });
    if (etcd) {
      await stopProc(etcd.proc);
      rmSync(etcd.dir, { recursive: true, force: true });
    }
  }
}

function etcdVersion(): string {
  const r = spawnSync('/usr/bin/etcd', ['--version']);
  return /etcd Version: (\S+)/.exec(r.stdout?.toString() ?? '')?.[1] ?? '';
}

main().catch((err: unknown) => {
  process.stderr.write(`manager bench failed: ${(err as Error).message}\n`);
  process.exit(1);
});
