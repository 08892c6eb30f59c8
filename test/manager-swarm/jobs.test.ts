// Job decisions (manager/orchestrator/jobs.ts), pure: a replicated job runs MaxConcurrent at a time until each of
// its TotalCompletions slots has a completed task; completed tasks are never restarted; failures are retried per
// the restart policy; a global job runs once per eligible node; a new iteration stops the old one's tasks.
import t from 'tap';
import { decideJob, type JobTask } from '../../manager/orchestrator/jobs.js';
import type { TaskState } from '../../manager/orchestrator/types.js';

const any = { condition: 'any' as const, maxAttempts: 0 };
let n = 0;
const task = (slot: number, state: TaskState, o: Partial<JobTask> = {}): JobTask => ({ id: `t${++n}`, slot, nodeId: '', iteration: 0, state, desired: 'complete', restarts: 0, ...o });
const rep = (maxConcurrent: number, totalCompletions: number) => ({ kind: 'replicated-job' as const, maxConcurrent, totalCompletions });

t.test('replicated job: MaxConcurrent at a time, lowest free slots first, until TotalCompletions complete', async (t) => {
  let d = decideJob(rep(2, 5), 0, [], [], any);
  t.same(d.start.map((s) => s.slot), [0, 1], 'two at once');
  d = decideJob(rep(2, 5), 0, [task(0, 'complete'), task(1, 'running')], [], any);
  t.same(d.start.map((s) => s.slot), [2], 'a completed slot frees one place');
  d = decideJob(rep(2, 3), 0, [task(0, 'complete'), task(1, 'complete'), task(2, 'complete')], [], any);
  t.same(d, { start: [], stop: [] }, 'all complete: nothing more, nothing restarted');
});

t.test('failed tasks are stopped and replaced per the restart policy; completed ones never', async (t) => {
  const failed = task(0, 'failed', { restarts: 1 });
  let d = decideJob(rep(1, 1), 0, [failed], [], any);
  t.same(d.stop, [failed.id]);
  t.same(d.start, [{ slot: 0, nodeId: '', restarts: 2 }]);
  d = decideJob(rep(1, 1), 0, [failed], [], { condition: 'any', maxAttempts: 1 });
  t.same(d.start, [], 'MaxAttempts reached: the slot gives up');
  d = decideJob(rep(1, 1), 0, [task(0, 'failed')], [], { condition: 'none', maxAttempts: 0 });
  t.same(d.start, [], 'condition none: no retry');
  d = decideJob(rep(1, 1), 0, [task(0, 'failed', { desired: 'shutdown' }), task(0, 'complete', { restarts: 1 })], [], any);
  t.same(d, { start: [], stop: [] }, 'a slot completed after a retry stays done');
});

t.test('a new iteration stops the old tasks and runs every slot again', async (t) => {
  const old = task(0, 'running', { iteration: 0 });
  const oldDone = task(1, 'complete', { iteration: 0 });
  const d = decideJob(rep(3, 2), 1, [old, oldDone], [], any);
  t.same(d.stop, [old.id], 'only the old live task is stopped');
  t.same(d.start.map((s) => s.slot), [0, 1], "the old run's completions do not count");
});

t.test('global job: once per eligible node', async (t) => {
  const g = { kind: 'global-job' as const };
  let d = decideJob(g, 0, [], ['n1', 'n2'], any);
  t.same(d.start, [{ slot: 0, nodeId: 'n1', restarts: 0 }, { slot: 0, nodeId: 'n2', restarts: 0 }]);
  d = decideJob(g, 0, [task(0, 'complete', { nodeId: 'n1' }), task(0, 'running', { nodeId: 'n2' })], ['n1', 'n2', 'n3'], any);
  t.same(d.start, [{ slot: 0, nodeId: 'n3', restarts: 0 }], 'a node that joins later runs it too; done nodes do not');
});
