// Issue 9, finding 1: anyone who reaches the TLS port floods it with connections that never authenticate (20,000
// idle raw TCP connections and 5,000 stalled handshakes from 127.0.0.1, at 1,000 connections a second, each one the
// manager drops opened again: see conn-flooder.mjs for why the rate is bounded).
// The manager must keep answering on its Unix socket and to an admin over TLS (new handshake per request), hold
// no more descriptors than its caps allow, give every descriptor back after the flood (no CLOSE-WAIT pile-up), and
// exit on SIGTERM within 5 s, also while a flood is going on.
import t from 'tap';
import https from 'node:https';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { childEnv, isRoot, REPO_ROOT, request, startManager, type ManagerHandle } from '../helpers/manager.js';
import { waitFor } from '../helpers/wait.js';

// Under 60 s on an idle machine; the bound leaves room for a busy one (2 cores shared with other test runs).
t.setTimeout(300_000);

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const IDLE = 20_000;
/** Connections a second, all flooders together: about half what this manager accepts on 2 shared cores. */
const RATE = 1_000;
const STALLED = 5_000;
/** The clients are measured from the flood's start until this long after every connection was made once. */
const MEASURE_AFTER_MS = 5_000;
const FLOODER = join(REPO_ROOT, 'test', 'fixtures', 'conn-flooder.mjs');

interface FloodCounts {
  final: boolean;
  open: number;
  connects: number;
  droppedByServer: number;
  errors: number;
  peakOpen: number;
}

interface Flood {
  /** The counters summed over the flooder processes (each reports once a second). */
  total: () => FloodCounts;
  stop: () => Promise<FloodCounts>;
}

/**
 * Flooder processes, each under this process's descriptor limit (20,000 here; the hard limit cannot be raised
 * without CAP_SYS_RESOURCE): together they keep IDLE idle connections and STALLED stalled handshakes.
 */
function startFlood(port: number, processes = 2): Flood {
  const last: FloodCounts[] = [];
  const exits: Promise<void>[] = [];
  const children: ChildProcess[] = [];
  for (let i = 0; i < processes; i++) {
    const child = spawn(process.execPath, [FLOODER, '127.0.0.1', String(port), String(IDLE / processes), String(STALLED / processes), String(RATE / processes)], {
      env: childEnv(),
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    last.push({ final: false, open: 0, connects: 0, droppedByServer: 0, errors: 0, peakOpen: 0 });
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      partial += c;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) last[i] = JSON.parse(l) as FloodCounts;
    });
    exits.push(new Promise<void>((resolve) => child.once('close', () => resolve())));
  }
  const total = (): FloodCounts =>
    last.reduce((a, c) => ({
      final: a.final && c.final,
      open: a.open + c.open,
      connects: a.connects + c.connects,
      droppedByServer: a.droppedByServer + c.droppedByServer,
      errors: a.errors + c.errors,
      peakOpen: a.peakOpen + c.peakOpen,
    }));
  let stopped: Promise<FloodCounts> | null = null;
  return {
    total,
    stop: () =>
      (stopped ??= (async () => {
        for (const c of children) c.stdin!.end();
        await Promise.all(exits);
        return total();
      })()),
  };
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** Sockets of the manager's port in CLOSE-WAIT (/proc/net/tcp state 08): peers gone, the manager never closed. */
function closeWaitCount(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 3 && f[1]!.endsWith(`:${hexPort}`) && f[3] === '08') n++;
    }
  }
  return n;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs probe back to back until done(); each call's latency (a failure or a 5 s timeout counts as 5 s). */
async function measure(done: () => boolean, probe: () => Promise<boolean>): Promise<{ ms: number[]; failures: string[] }> {
  const ms: number[] = [];
  const failures: string[] = [];
  while (!done()) {
    const t0 = performance.now();
    let ok = false;
    try {
      ok = await Promise.race([probe(), new Promise<boolean>((_, reject) => setTimeout(() => reject(new Error('no answer in 5 s')), 5000).unref())]);
      if (!ok) failures.push('unexpected answer');
    } catch (err) {
      failures.push((err as Error).message);
    }
    ms.push(ok ? performance.now() - t0 : 5000);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { ms: ms.sort((a, b) => a - b), failures };
}

function adminGet(m: ManagerHandle, path: string): Promise<boolean> {
  const dir = m.adminCertDir;
  const opts = { ca: readFileSync(join(dir, 'ca.pem')), cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: m.tcpPort, path, method: 'GET', ...opts, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('a flood of unauthenticated connections neither starves the manager nor keeps its descriptors', async (t) => {
  const m = await startManager({ t, logLevel: 'info' });
  const pid = m.pid()!;
  t.equal((await m.cli(['secret', 'create', 'flood_probe', '-'], 'x')).code, 0, 'a secret to list');
  // Baseline once the start-up connections are gone.
  await new Promise((r) => setTimeout(r, 500));
  const baseline = fdCount(pid);

  const flood = startFlood(m.tcpPort);
  t.teardown(() => flood.stop());
  let peakFds = 0;
  const sampler = setInterval(() => (peakFds = Math.max(peakFds, fdCount(pid))), 100);
  let until = Infinity;
  const watcher = setInterval(() => {
    if (until === Infinity && flood.total().connects >= IDLE + STALLED) until = Date.now() + MEASURE_AFTER_MS;
  }, 100);
  const started = Date.now();
  const done = (): boolean => Date.now() > until || Date.now() - started > 90_000;
  const [unix, admin, cli] = await Promise.all([
    measure(done, async () => (await request(m.socket, 'GET', '/v1.47/secrets')).status === 200),
    measure(done, () => adminGet(m, '/v1.47/secrets')),
    // The real `secret ls` (a CLI process each time, so its start-up is part of the figure).
    measure(done, async () => {
      const r = await m.cli(['secret', 'ls', '-q']);
      return r.code === 0 && r.stdout.trim() !== '';
    }),
  ]);
  clearInterval(watcher);
  clearInterval(sampler);
  const during = flood.total();
  const final = await flood.stop();

  const fmt = (name: string, r: { ms: number[] }): string =>
    `${name}: ${r.ms.length} requests, p50 ${percentile(r.ms, 50).toFixed(0)} ms, p99 ${percentile(r.ms, 99).toFixed(0)} ms, max ${r.ms[r.ms.length - 1]!.toFixed(0)} ms`;
  t.comment(`figure connection flood: ${IDLE} idle + ${STALLED} stalled at ${RATE} a second, measured over ${((Date.now() - started) / 1000).toFixed(0)} s; flooder made ${final.connects} connections, the manager dropped ${final.droppedByServer}; manager fds baseline ${baseline}, peak ${peakFds}`);
  t.comment(`figure connection flood: ${fmt('unix GET /secrets', unix)}`);
  t.comment(`figure connection flood: ${fmt('admin TLS GET /secrets (new handshake each)', admin)}`);
  t.comment(`figure connection flood: ${fmt('CLI secret ls', cli)}`);
  if (admin.failures.length) t.comment(`admin failures: ${admin.failures.slice(0, 5).join("; ")}`);

  t.ok(during.connects >= IDLE + STALLED, `the flood ran: ${JSON.stringify(during)}`);
  t.ok((final.droppedByServer) > 0, 'the manager dropped unauthenticated connections to stay under its caps');
  t.ok(peakFds < 10_000, `the manager held at most ${peakFds} descriptors (limit 20,000): the caps held`);
  for (const [name, r] of [['unix', unix], ['admin TLS', admin], ['CLI secret ls', cli]] as const) {
    t.same(r.failures.slice(0, 5), [], `${name}: every request answered (within 5 s)`);
    t.ok(r.ms.length >= 3, `${name}: measured ${r.ms.length} requests`);
  }
  t.ok(percentile(unix.ms, 99) < 1000, `unix: p99 ${percentile(unix.ms, 99).toFixed(0)} ms is under 1 s`);
  // A new TLS connection per request: the few slow ones are a SYN retried after 1 s or a handshake waiting for a
  // CPU the flooders and other test runs share (2 cores), so the bound is on the 95th percentile; p99 is printed.
  t.ok(percentile(admin.ms, 95) < 1000, `admin TLS: p95 ${percentile(admin.ms, 95).toFixed(0)} ms is under 1 s`);
  // The CLI's figure is mostly a node process starting on those busy cores, not the manager's latency (the Unix
  // figure is the same request without the process start): it gets only the 5 s bound above.

  // After the flood: every descriptor back, nothing left in CLOSE-WAIT.
  const after = await waitFor('the manager to give its descriptors back', () => (fdCount(pid) <= baseline + 3 ? fdCount(pid) : 0), { timeoutMs: 15_000, intervalMs: 200 });
  t.ok(after <= baseline + 3, `descriptors back to ${after} (baseline ${baseline})`);
  // Connections the flooders closed while still in the kernel's accept queue sit in CLOSE-WAIT until the manager
  // accepts and drops them: they drain as fast as it accepts.
  const closeWait = await waitFor('no CLOSE-WAIT left', () => closeWaitCount(m.tcpPort) <= 2, { timeoutMs: 30_000, intervalMs: 200 }).then(
    () => closeWaitCount(m.tcpPort),
    () => closeWaitCount(m.tcpPort),
  );
  t.ok(closeWait <= 2, `${closeWait} sockets in CLOSE-WAIT on the manager's port`);
  t.equal((await request(m.socket, 'GET', '/_ping')).status, 200, 'the manager still answers');

  // SIGTERM while a new flood is on: the manager exits within 5 s.
  const again = startFlood(m.tcpPort);
  t.teardown(() => again.stop());
  await waitFor('the second flood to be under way', () => again.total().connects >= 5000, { timeoutMs: 30_000, intervalMs: 200 });
  const t0 = Date.now();
  const code = await m.stop();
  const took = Date.now() - t0;
  await again.stop();
  t.comment(`figure connection flood: SIGTERM during a flood: exited with ${String(code)} after ${took} ms`);
  t.equal(code, 0, 'the manager stopped cleanly');
  t.ok(took < 5000, `SIGTERM exited within 5 s (${took} ms)`);
});
