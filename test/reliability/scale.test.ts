// Scale check (issue 13): 20 real agents (`--runtime process`, each with its FUSE mount) and one real manager on this
// machine, a 1,000-task service with a secret. It must converge (every task running) with no node marked down, no
// agent dropping its session for a missing heartbeat answer, and no task moved (the service has exactly its 1,000
// tasks, the first ones). It asserts the outcome, never a time; the bound on the wait only keeps a wedged run from
// hanging the suite. RS_SCALE_AGENTS / RS_SCALE_TASKS_PER_AGENT change the size (defaults 20 x 50).
import t from 'tap';
import { fuseSkipReason } from '../helpers/env.js';
import { api, cleanupAll, createSecret, procs, serviceSpec, startCluster, waitFor } from '../../bench/lib/cluster.js';

const AGENTS = Number(process.env.RS_SCALE_AGENTS ?? 20);
const PER_AGENT = Number(process.env.RS_SCALE_TASKS_PER_AGENT ?? 50);
const WAIT_MS = 9 * 60_000; // with the cluster's start, within run-all's 900 s per file

interface TaskJson {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

const skip = fuseSkipReason();

t.test(`${AGENTS} agents x ${PER_AGENT} tasks converge with no false down and no task moved`, { skip, timeout: WAIT_MS + 300_000 }, async (t) => {
  t.teardown(() => cleanupAll());
  const total = AGENTS * PER_AGENT;
  const c = await startCluster(AGENTS);
  const secret = await createSecret(c.socket, 'scale_secret', 'value-of-the-scale-secret');
  const svc = await api<{ ID: string }>(c.socket, 'POST', '/services/create', serviceSpec('scale', total, [{ id: secret, name: 'scale_secret', target: 'scale' }]));
  const tasksOf = async (): Promise<TaskJson[]> =>
    api<TaskJson[]>(c.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [svc.ID] }))}`);

  let last: TaskJson[] = [];
  const converged = await waitFor(`${total} running tasks`, async () => {
    last = await tasksOf();
    const bad = last.find((x) => x.Status.State === 'failed' || x.Status.State === 'rejected');
    if (bad) throw new Error(`task ${bad.ID} ${bad.Status.State}: ${bad.Status.Err ?? ''}`);
    return last.filter((x) => x.DesiredState === 'running' && x.Status.State === 'running').length === total;
  }, WAIT_MS, 1000).catch((err: Error) => {
    const states = new Map<string, number>();
    for (const x of last) states.set(`${x.DesiredState}/${x.Status.State}`, (states.get(`${x.DesiredState}/${x.Status.State}`) ?? 0) + 1);
    t.fail(`${err.message}; tasks (desired/state): ${[...states].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    return false;
  });
  t.ok(converged, `all ${total} tasks running`);

  const tasks = await tasksOf();
  t.equal(tasks.length, total, `the service has exactly its ${total} tasks: none was replaced or moved`);
  const perNode = new Map<string, number>();
  for (const x of tasks) perNode.set(x.NodeID, (perNode.get(x.NodeID) ?? 0) + 1);
  t.equal(perNode.size, AGENTS, `spread over all ${AGENTS} nodes`);

  const nodes = await api<Array<{ ID: string; Status: { State: string } }>>(c.socket, 'GET', '/nodes');
  t.same(nodes.filter((n) => n.Status.State !== 'ready').map((n) => `${n.ID} ${n.Status.State}`), [], 'every node is ready');
  const manager = procs.find((p) => p.name === 'manager')!;
  t.same(manager.warnings.filter((l) => l.includes('node down')), [], 'the manager marked no node down');
  const drops = procs.filter((p) => p.name !== 'manager').flatMap((p) => p.warnings.filter((l) => /no heartbeat answer|disconnected from the manager/.test(l)).map((l) => `${p.name}: ${l}`));
  t.same(drops, [], 'no agent dropped its session');
});
