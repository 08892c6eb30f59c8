// Job modes in the API (manager/api/services.ts serviceStatus): `GET /services?status=true` counts a job's current
// run (tasks desired `complete` of its JobIteration): running ones, all of them, and the completed ones.
import t from 'tap';
import { World, spec } from '../helpers/swarm-world.js';
import { serviceStatus } from '../../manager/api/services.js';

t.test("a job's ServiceStatus counts its current run only", async (t) => {
  const w = new World();
  w.addNode('n1');
  const job = { ...spec(), Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 3 } } };
  w.setJob('j', job);
  w.settle();
  w.agents();
  const status = () => serviceStatus(w.services.get('j')!, [...w.tasks.values()]);
  t.same(status(), { RunningTasks: 2, DesiredTasks: 2, CompletedTasks: 0 }, 'two running of the first run');
  for (const x of w.of('j')) w.report(x.id, 'complete', 0);
  w.converge(5);
  t.same(status(), { RunningTasks: 1, DesiredTasks: 3, CompletedTasks: 2 }, 'the third slot runs');
  for (const x of w.of('j')) if (x.spec.Status.State === 'running') w.report(x.id, 'complete', 0);
  w.settle();
  t.same(status(), { RunningTasks: 0, DesiredTasks: 3, CompletedTasks: 3 }, 'all three complete');
  w.setJob('j', { ...spec({ force: 1 }), Mode: job.Mode });
  w.settle();
  t.same(status(), { RunningTasks: 0, DesiredTasks: 2, CompletedTasks: 0 }, "a new run: the old run's completions do not count");
});

t.test('a replicated service keeps its counts (CompletedTasks 0)', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.setService('web', spec({ replicas: 2 }));
  w.settle();
  w.agents();
  t.same(serviceStatus(w.services.get('web')!, [...w.tasks.values()]), { RunningTasks: 2, DesiredTasks: 2, CompletedTasks: 0 });
});
