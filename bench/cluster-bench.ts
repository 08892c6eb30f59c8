// Cluster benchmark, on real processes: a real manager (`runsecrets manager init/run`, default heartbeat) and real
// agents (`runsecrets agent run --manager 127.0.0.1:PORT --token-file …`), each with its own temp mount and state dir.
//  1. grant latency: from the `service update --secret-add` API call (POST /services/{id}/update?version=N over the
//     manager's Unix socket, the body the CLI sends: the whole spec with the secret added) until MOUNT/<task ID>/<target>
//     is readable on the agent's mount; revoke latency (`--secret-rm`) until that path gives ENOENT. The bench polls
//     the path from its own process: one open+read, then one event-loop turn, then a 0.2 ms sleep (Atomics.wait, so
//     the poller takes little CPU from the agents on 2 cores); times from process.hrtime. p50/p99 over BENCH_TRIALS
//     (default 200) trials each, with 1 agent (1 task), then with 20 agents running 50 tasks each (1,000 tasks: the
//     measured service, 1 replica, plus a service of 999 replicas spread by the scheduler, each task given a secret).
//     A read that gives EIO (opened just before a revoke) counts as neither readable nor gone.
//  2. the agents' memory per 1,000 tasks: sum of VmRSS of the 20 agent processes with their 1,000 tasks, minus the
//     same agents idle (joined, no task), scaled to 1,000 tasks; each reading after 6 s of quiet, median of 5.
// Whole run: about 2 minutes here (1 agent ~15-30 s; 20 agents ~60 s to start 1,000 tasks, ~25 s to measure).
// Run: node dist/bench/cluster-bench.js   (root: FUSE mounts and the manager's socket; BENCH_TRIALS=20 for a quick check)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleepBuf, sleepMs, turn, pct, call, api, waitFor, rssKiB, cleanupAll, procs, ROOT, type Cluster, startCluster, createSecret, serviceSpec } from './lib/cluster.js';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 200);
const BIG_AGENTS = Number(process.env.BENCH_AGENTS ?? 20);
const TASKS_PER_AGENT = Number(process.env.BENCH_TASKS_PER_AGENT ?? 50);
const TARGET_MS = { one: 20, many: 100 };
const TARGET = 'bench_secret';

interface TaskJson {
  ID: string;
  NodeID: string;
  ServiceID: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

async function runningTasks(socket: string): Promise<TaskJson[]> {
  const all = await api<TaskJson[]>(socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ 'desired-state': ['running'] }))}`);
  const failed = all.find((t) => t.Status.State === 'failed' || t.Status.State === 'rejected');
  if (failed) throw new Error(`task ${failed.ID} ${failed.Status.State}: ${failed.Status.Err ?? ''}`);
  return all.filter((t) => t.Status.State === 'running');
}

/** Polls `path` (open+read) until `done(readable)`; returns the elapsed ms since `t0`. */
async function pollUntil(path: string, wantReadable: boolean, t0: bigint, timeoutMs = 10_000): Promise<number> {
  for (;;) {
    let readable: boolean;
    try {
      readFileSync(path);
      readable = true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // EIO: opened just before a revoke, read after it (the handle is dead): not readable, not gone yet either.
      if (code === 'EIO') {
        await turn();
        continue;
      }
      if (code !== 'ENOENT') throw err;
      readable = false;
    }
    const now = process.hrtime.bigint();
    if (readable === wantReadable) return Number(now - t0) / 1e6;
    if (Number(now - t0) / 1e6 > timeoutMs) throw new Error(`${path} still ${readable ? 'readable' : 'absent'} after ${timeoutMs} ms`);
    await turn(); // let the update's HTTP exchange progress
    Atomics.wait(sleepBuf, 0, 0, 0.2);
  }
}

interface Latency {
  agents: number;
  tasks: number;
  trials: number;
  grant: { p50: number; p99: number; max: number };
  revoke: { p50: number; p99: number; max: number };
  targetP99Ms: number;
  met: boolean;
}

/** Alternates --secret-add and --secret-rm of one secret on the measured service (1 running task). */
async function measure(c: Cluster, serviceId: string, secret: { id: string; name: string }, taskDir: string, totalTasks: number, target: number): Promise<Latency> {
  const path = join(taskDir, TARGET);
  const grant: number[] = [];
  const revoke: number[] = [];
  const update = async (add: boolean): Promise<number> => {
    const cur = await api<{ Version: { Index: number }; Spec: Record<string, unknown> }>(c.socket, 'GET', `/services/${serviceId}`);
    const spec = structuredClone(cur.Spec) as { TaskTemplate: { ContainerSpec: { Secrets?: unknown[] } } };
    const secrets = (spec.TaskTemplate.ContainerSpec.Secrets ?? []) as Array<{ SecretName: string }>;
    spec.TaskTemplate.ContainerSpec.Secrets = add
      ? [...secrets, { SecretID: secret.id, SecretName: secret.name, File: { Name: TARGET, UID: '0', GID: '0', Mode: 0o444 } }]
      : secrets.filter((s) => s.SecretName !== secret.name);
    const t0 = process.hrtime.bigint();
    const req = call(c.socket, 'POST', `/services/${serviceId}/update?version=${cur.Version.Index}`, spec);
    const ms = await pollUntil(path, add, t0);
    const r = await req;
    if (r.status !== 200) throw new Error(`service update: ${r.status} ${r.text}`);
    return ms;
  };
  const warm = Math.min(5, TRIALS);
  for (let i = 0; i < warm; i++) {
    await update(true);
    await update(false);
  }
  for (let i = 0; i < TRIALS; i++) {
    grant.push(await update(true));
    await sleepMs(2);
    revoke.push(await update(false));
    await sleepMs(2);
  }
  const s = (xs: number[]) => ({ p50: +pct(xs, 50).toFixed(2), p99: +pct(xs, 99).toFixed(2), max: +Math.max(...xs).toFixed(2) });
  const g = s(grant);
  const rv = s(revoke);
  return { agents: c.agents.length, tasks: totalTasks, trials: TRIALS, grant: g, revoke: rv, targetP99Ms: target, met: g.p99 <= target && rv.p99 <= target };
}

/** Sum of the agents' VmRSS: after 6 s of quiet (start-up garbage), the median of 5 readings 1 s apart. */
async function settledRss(c: Cluster): Promise<number> {
  await sleepMs(Number(process.env.BENCH_SETTLE_MS ?? 6000));
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    xs.push(c.agents.reduce((n, a) => n + rssKiB(a.p.proc.pid!), 0));
    await sleepMs(1000);
  }
  return pct(xs, 50);
}

interface Memory {
  idleMiB: number;
  loadedMiB: number;
  tasks: number;
  perThousandTasksMiB: number;
}

async function scenario(nAgents: number, tasksPerAgent: number, target: number): Promise<{ latency: Latency; memory?: Memory }> {
  const t0 = Date.now();
  const c = await startCluster(nAgents);
  const total = nAgents * tasksPerAgent;
  try {
    const measured = await createSecret(c.socket, 'measured_secret', 'value-of-the-measured-secret');
    const idleKiB = await settledRss(c);
    // The measured service (1 replica, no secret yet) first, then the load: spread fills every agent to tasksPerAgent.
    const svc = await api<{ ID: string }>(c.socket, 'POST', '/services/create', serviceSpec('measured', 1, []));
    if (total > 1) {
      const loadSecret = await createSecret(c.socket, 'load_secret', 'value-of-the-load-secret');
      await api(c.socket, 'POST', '/services/create', serviceSpec('load', total - 1, [{ id: loadSecret, name: 'load_secret', target: 'load' }]));
    }
    let lastLog = Date.now();
    const running = await waitFor(`${total} running tasks`, async () => {
      const r = await runningTasks(c.socket);
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        const all = await api<TaskJson[]>(c.socket, 'GET', '/tasks');
        const states = new Map<string, number>();
        for (const t of all) states.set(`${t.DesiredState}/${t.Status.State}`, (states.get(`${t.DesiredState}/${t.Status.State}`) ?? 0) + 1);
        console.error(`# tasks (desired/state): ${[...states].map(([k, v]) => `${k} ${v}`).join(', ')}`);
      }
      return r.length === total ? r : undefined;
    }, Number(process.env.BENCH_START_TIMEOUT_MS ?? 240_000), 500);
    const task = running.find((t) => t.ServiceID === svc.ID)!;
    const nodes = await api<Array<{ ID: string; Description: { Hostname: string } }>>(c.socket, 'GET', '/nodes');
    const host = nodes.find((n) => n.ID === task.NodeID)!.Description.Hostname;
    const agent = c.agents.find((a) => a.host === host)!;
    const perNode = new Map<string, number>();
    for (const t of running) perNode.set(t.NodeID, (perNode.get(t.NodeID) ?? 0) + 1);
    console.error(`# ${nAgents} agent(s): ${total} tasks running after ${((Date.now() - t0) / 1000).toFixed(1)} s; per agent ${[...new Set(perNode.values())].join('/')}; measured task ${task.ID} on ${host}`);
    const loadedKiB = await settledRss(c);
    const latency = await measure(c, svc.ID, { id: measured, name: 'measured_secret' }, join(agent.mount, task.ID), total, target);
    console.error(`# ${nAgents} agent(s): measured in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const memory: Memory | undefined = total >= 100
      ? { idleMiB: +(idleKiB / 1024).toFixed(1), loadedMiB: +(loadedKiB / 1024).toFixed(1), tasks: total, perThousandTasksMiB: +(((loadedKiB - idleKiB) / 1024) * (1000 / total)).toFixed(1) }
      : undefined;
    return { latency, memory };
  } catch (err) {
    for (const p of procs.slice(0, 3)) console.error(`--- last stderr of ${p.name}:\n${p.stderr.slice(-3000)}`);
    throw err;
  } finally {
    await cleanupAll();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (FUSE mounts, the manager socket)');
  const one = await scenario(1, 1, TARGET_MS.one);
  const many = await scenario(BIG_AGENTS, TASKS_PER_AGENT, TARGET_MS.many);
  const f = (n: number) => n.toFixed(1);
  const row = (label: string, l: Latency) =>
    `| ${label} | ${f(l.grant.p50)} / ${f(l.grant.p99)} | ${f(l.revoke.p50)} / ${f(l.revoke.p99)} | p99 ≤ ${l.targetP99Ms} ms: ${l.met ? 'met' : 'NOT met'} |`;
  console.log(`\n## Cluster benchmark (real manager and agents; ${TRIALS} trials each; ms from the update API call)\n`);
  console.log('| cluster | grant p50 / p99 ms | revoke p50 / p99 ms | target |');
  console.log('|---|---|---|---|');
  console.log(row(`1 agent, 1 task`, one.latency));
  console.log(row(`${BIG_AGENTS} agents, ${BIG_AGENTS * TASKS_PER_AGENT} tasks`, many.latency));
  if (many.memory) {
    console.log(`| agents' RSS per 1,000 tasks | ${many.memory.perThousandTasksMiB >= 0 ? '+' : ''}${f(many.memory.perThousandTasksMiB)} MiB (${BIG_AGENTS} agents: ${f(many.memory.idleMiB)} MiB idle, ${f(many.memory.loadedMiB)} MiB with ${many.memory.tasks} tasks) | | |`);
  }
  console.log(`\nmax grant/revoke: ${f(one.latency.grant.max)}/${f(one.latency.revoke.max)} ms (1 agent), ${f(many.latency.grant.max)}/${f(many.latency.revoke.max)} ms (${BIG_AGENTS} agents)`);
  mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/out/cluster-results.json'), JSON.stringify({ trials: TRIALS, oneAgent: one.latency, manyAgents: many.latency, memory: many.memory }, null, 2));
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`${sig}: cleaning up`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

main().catch(async (err) => {
  console.error(err);
  await cleanupAll();
  process.exit(1);
});
