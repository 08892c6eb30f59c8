// Job modes wired into the orchestrator (manager/orchestrator/reconcile.ts runs ./jobs.ts's decisions) and the
// dispatcher (manager/dispatcher/assignments.ts), on the in-memory cluster: tasks desired `complete` carry the
// job's iteration, run to completion and are never restarted; an update starts a new iteration; no rolling update.
import t from 'tap';
import { World, spec } from '../helpers/swarm-world.js';
import { isNodeTask, toAssignment } from '../../manager/dispatcher/assignments.js';
import type { ServiceSpec } from '../../manager/orchestrator/types.js';

type Spec = Omit<ServiceSpec, 'Name'>;
const replicatedJob = (maxConcurrent: number, totalCompletions: number, o: Parameters<typeof spec>[0] = {}): Spec => ({
  ...spec(o),
  Mode: { ReplicatedJob: { MaxConcurrent: maxConcurrent, TotalCompletions: totalCompletions } },
});
const globalJob = (o: Parameters<typeof spec>[0] = {}): Spec => ({ ...spec(o), Mode: { GlobalJob: {} } });

/** Every task of the service the agents run now finishes with exit code 0. */
function finishRunning(w: World, service: string, exitCode = 0): number {
  let n = 0;
  for (const x of w.of(service)) {
    if (x.spec.Status.State !== 'running') continue;
    w.report(x.id, exitCode === 0 ? 'complete' : 'failed', exitCode);
    n++;
  }
  return n;
}

t.test('a replicated job runs MaxConcurrent at a time to TotalCompletions completions, none restarted', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.addNode('n2');
  w.setJob('j', replicatedJob(2, 3));
  w.settle();
  const first = w.of('j');
  t.equal(first.length, 2, 'two at once');
  for (const x of first) t.match(x.spec, { DesiredState: 'complete', JobIteration: { Index: 0 }, Status: { State: 'assigned' } });
  w.agents();
  t.equal(finishRunning(w, 'j'), 2);
  w.settle();
  t.equal(w.of('j').length, 3, 'the third slot starts once a place is free');
  w.agents();
  t.equal(finishRunning(w, 'j'), 1);
  w.converge(30);
  const all = w.of('j');
  t.equal(all.length, 3, 'no task restarted or added after completion');
  t.same(all.map((x) => x.spec.Slot).sort(), [0, 1, 2]);
  for (const x of all) t.match(x.spec, { DesiredState: 'complete', Status: { State: 'complete' } });
  t.same(w.lastPlan, { create: [], update: [], delete: [], services: [], wakeAt: null }, 'nothing more to do');
});

t.test('a failed job task is stopped and retried per the restart policy; its retry carries the iteration', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.setJob('j', replicatedJob(1, 1, { restart: { Condition: 'on-failure', MaxAttempts: 2 } }));
  w.settle();
  w.agents();
  const [first] = w.of('j');
  finishRunning(w, 'j', 3);
  w.settle();
  t.equal(w.tasks.get(first!.id)!.spec.DesiredState, 'shutdown', 'the failed task is told to stop');
  const retry = w.of('j').find((x) => x.id !== first!.id)!;
  t.match(retry.spec, { Slot: 0, DesiredState: 'complete', restarts: 1, JobIteration: { Index: 0 } });
  w.agents();
  finishRunning(w, 'j', 3);
  w.settle();
  w.agents();
  finishRunning(w, 'j', 3);
  w.converge(30);
  t.equal(w.of('j').length, 3, 'MaxAttempts 2: two retries, then the slot gives up');
});

t.test('a restart delay holds the retry, then it runs as a job task', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.setJob('j', replicatedJob(1, 1, { restart: { Condition: 'any', Delay: 5_000_000_000 } }));
  w.settle();
  w.agents();
  finishRunning(w, 'j', 1);
  w.settle();
  const held = w.of('j').find((x) => x.spec.restarts === 1)!;
  t.equal(held.spec.DesiredState, 'ready', 'held during the delay');
  t.ok(w.lastPlan!.wakeAt !== null, 'a wake-up is planned');
  w.advance(6_000_000_000n);
  w.settle();
  t.equal(w.tasks.get(held.id)!.spec.DesiredState, 'complete', 'released as a job task');
});

t.test('a global job runs once per eligible node, also on a node that joins later', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.addNode('n2');
  w.addNode('n3', { availability: 'drain' });
  w.setJob('g', globalJob());
  w.converge(5);
  for (const x of w.of('g')) if (x.spec.Status.State === 'running') w.report(x.id, 'complete', 0);
  w.converge(5);
  t.same(w.of('g').map((x) => x.spec.NodeID).sort(), ['n1', 'n2'], 'once per node, not restarted');
  w.addNode('n4');
  w.converge(5);
  t.same(w.of('g').map((x) => x.spec.NodeID).sort(), ['n1', 'n2', 'n4']);
});

t.test('an update (even ForceUpdate alone) starts a new iteration; the rolling updater leaves jobs alone', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.setJob('j', replicatedJob(2, 2));
  w.converge(5);
  finishRunning(w, 'j');
  w.converge(5);
  const old = w.of('j').map((x) => x.id);
  t.equal(old.length, 2);
  w.setJob('j', replicatedJob(2, 2, { force: 1 }));
  w.settle();
  const fresh = w.of('j').filter((x) => !old.includes(x.id));
  t.equal(fresh.length, 2, 'every slot runs again');
  for (const x of fresh) t.match(x.spec, { DesiredState: 'complete', JobIteration: { Index: 1 } });
  t.same(w.lastPlan!.services, [], 'no UpdateStatus written');
  t.notOk(w.services.get('j')!.spec.UpdateStatus, 'no rolling update');
  // An update while the old run is still running stops the old run's tasks.
  w.agents();
  w.setJob('j', replicatedJob(2, 2, { force: 2 }));
  w.settle();
  for (const x of fresh) t.equal(w.tasks.get(x.id)!.spec.DesiredState, 'shutdown', 'the old run stops');
  t.equal(w.of('j').filter((x) => x.spec.JobIteration?.Index === 2).length, 2);
});

t.test('the dispatcher hands job tasks out as running until they finish', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.setJob('j', replicatedJob(1, 1));
  w.settle();
  const [x] = w.of('j');
  t.ok(isNodeTask(x!, 'n1'), 'handed out');
  t.equal(toAssignment(x!).desiredState, 'running', 'the agent starts only tasks marked running');
  w.agents();
  finishRunning(w, 'j');
  const done = w.tasks.get(x!.id)!;
  t.notOk(isNodeTask(done, 'n1'), 'a completed job task is no longer the node\'s');
});

t.test('a non-job service is unchanged: a task that exits 0 is restarted (condition any)', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.setService('web', spec({ replicas: 1 }));
  w.settle();
  w.agents();
  finishRunning(w, 'web');
  w.settle();
  t.equal(w.live('web').length, 1, 'a replacement');
  t.equal(w.of('web').length, 2);
  for (const x of w.of('web')) t.notOk(x.spec.JobIteration, 'no JobIteration');
});
