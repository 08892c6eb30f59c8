// Regression test for the pool-exhaustion deadlock with many tasks starting at once on one agent (commit abde1d2,
// "FUSE: one notification in flight at a time", and its successors: one mount plan at a time in the executor,
// a larger libuv pool for the agent). The agent's own lookups on its FUSE mount and its kernel notifications both
// use libuv's pool, whose threads also read /dev/fuse to answer those lookups: with dozens of tasks starting
// together the pool filled with waiters that no reader could answer, and the tasks never reached running.
//
// One agent, one service of REPLICAS tasks (each with two secrets) created in one go, so the agent gets them all in
// one assignment: every task must reach running within the deadline, and each must read its own secrets from
// inside its namespace (checked with `task exec`). A deadlocked agent fails the deadline; teardown then aborts its
// FUSE connection so nothing stays stuck.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fuseSkip } from '../helpers/env.js';
import { startManager, request, type ManagerHandle, type CliResult } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { waitFor } from '../helpers/wait.js';

const skip = fuseSkip();
const REPLICAS = Number(process.env.RS_MANY_TASKS ?? 80);
const START_DEADLINE_MS = Number(process.env.RS_MANY_TASKS_DEADLINE_MS ?? 240_000);

interface TaskJson {
  ID: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

function ok(r: CliResult, what: string): CliResult {
  if (r.code !== 0) throw new Error(`${what} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return r;
}

async function tasksOf(m: ManagerHandle, service: string): Promise<TaskJson[]> {
  const r = await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`);
  return r.json as TaskJson[];
}

/** The FUSE connection number of the mount (its device minor), to abort a connection no one answers. */
t.test(`many tasks starting at once on one agent (${REPLICAS})`, skip, async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '1000';
  const m = await startManager({ t });
  const a = managedAgent({ managerPort: m.tcpPort, hostname: 'many-a' });
  t.teardown(async () => {
    // The agent's task processes, by pid: a killed agent leaves them behind (none are left after a clean stop).
    const kids = a.proc?.pid === undefined ? [] : (spawnSync('ps', ['-o', 'pid=', '--ppid', String(a.proc.pid)], { encoding: 'utf8' }).stdout ?? '')
      .split('\n').map((x) => Number(x.trim())).filter((x) => x > 0);
    await stopOrKill(a, 30_000);
    for (const pid of kids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await m.cleanup();
    rmSync(a.dir, { recursive: true, force: true });
  });
  await a.start(m.workerToken);
  ok(await m.cli(['secret', 'create', 'many_a', '-'], 'many-secret-A'), 'secret create many_a');
  ok(await m.cli(['secret', 'create', 'many_b', '-'], 'many-secret-B'), 'secret create many_b');
  const started = Date.now();
  ok(await m.cli(['service', 'create', '--name', 'many', '--replicas', String(REPLICAS), '--secret', 'many_a', '--secret', 'many_b',
    '--detach', 'none', 'sleep', '1d']), 'service create many');

  let last = '';
  const tasks = await waitFor(`${REPLICAS} tasks running`, async () => {
    const ts = await tasksOf(m, 'many');
    const counts = new Map<string, number>();
    for (const x of ts) counts.set(x.Status.State, (counts.get(x.Status.State) ?? 0) + 1);
    last = JSON.stringify(Object.fromEntries(counts));
    const run = ts.filter((x) => x.Status.State === 'running' && x.DesiredState === 'running');
    return run.length === REPLICAS && ts.length === REPLICAS ? run : null;
  }, { timeoutMs: START_DEADLINE_MS, intervalMs: 250 }).catch(async (err: Error) => {
    const node = ((await request(m.socket, 'GET', '/nodes')).json as { Status: { State: string } }[]).map((n) => n.Status.State);
    const stuck = a.logs().filter((l) => l.msg === 'task state').slice(-3);
    throw new Error(`${err.message}; task states: ${last}; node states: ${node.join(',')}; last agent task-state lines: ${JSON.stringify(stuck)}`);
  });
  const startMs = Date.now() - started;
  t.equal(tasks.length, REPLICAS, `all ${REPLICAS} tasks running, none failed or replaced (states ${last})`);
  t.comment(`figure many-tasks.start: ${REPLICAS} tasks with 2 secrets each running on one agent ${(startMs / 1000).toFixed(1)} s after service create`);

  // Each reads its own secrets from inside its namespace; a few execs at a time (each is a CLI process).
  const bad: string[] = [];
  const queue = [...tasks];
  await Promise.all(Array.from({ length: 6 }, async () => {
    for (let x = queue.shift(); x; x = queue.shift()) {
      const r = await a.exec([x.ID, 'cat', '/run/secrets/many_a', '/run/secrets/many_b'], { timeoutMs: 60_000 });
      if (r.code !== 0 || r.stdout !== 'many-secret-Amany-secret-B') bad.push(`${x.ID}: code ${String(r.code)} ${JSON.stringify(r.stdout)} ${r.stderr.trim()}`);
    }
  }));
  t.same(bad, [], `every task read both secrets in its namespace (${REPLICAS - bad.length} of ${REPLICAS})`);
  t.comment(`figure many-tasks.read: ${REPLICAS - bad.length} of ${REPLICAS} tasks read both secrets through task exec`);
  t.equal(a.logs().filter((l) => l.level === 'fatal' || l.msg === 'task start failed').length, 0, 'no task start failed');
});
