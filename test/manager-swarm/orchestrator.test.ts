// Unit tests of the orchestrator and scheduler (manager/orchestrator/reconcile.ts) on an in-memory cluster.
import t from 'tap';
import { World, spec } from '../helpers/swarm-world.js';
import { parseConstraints, nodeMatches } from '../../manager/orchestrator/constraints.js';
import { TASK_HISTORY, compareTemplates } from '../../manager/orchestrator/reconcile.js';

const SEC = 1_000_000_000n;

t.test('replicas spread over ready, active nodes; all assigned', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.addNode('n2');
  w.setService('web', spec({ replicas: 4 }));
  w.settle();
  t.same(w.perNode('web'), { n1: 2, n2: 2 });
  t.same(w.live('web').map((x) => x.spec.Slot).sort(), [1, 2, 3, 4]);
  for (const x of w.live('web')) t.match(x.spec.Status, { State: 'assigned', Message: 'scheduler assigned task to node' });
  // A second service spreads on its own count first, then on the nodes' total load.
  w.addNode('n3');
  w.setService('db', spec({ replicas: 1 }));
  w.settle();
  t.same(w.perNode('db'), { n3: 1 }, 'the empty node takes it');
});

t.test('no suitable node: pending with Docker\'s message and explanation', async (t) => {
  const w = new World();
  w.setService('web', spec({ replicas: 1 }));
  w.settle();
  t.match(w.live('web')[0]!.spec.Status, { State: 'pending', Message: 'pending task scheduling', Err: 'no suitable node' });
  w.addNode('n1', { labels: { zone: 'b' } });
  w.addNode('n2', { availability: 'drain' });
  w.addNode('n3', { availability: 'pause' });
  w.setService('web', spec({ replicas: 1, constraints: ['node.labels.zone==a'] }));
  w.settle();
  const live = w.live('web');
  t.equal(live.length, 1);
  t.match(live[0]!.spec.Status, {
    State: 'pending',
    Err: 'no suitable node (2 nodes not available for new tasks; scheduling constraints not satisfied on 1 node)',
  });
  // The node gets the label: the pending task is placed.
  w.setNode('n1', (n) => ({ ...n, Spec: { ...n.Spec, Labels: { zone: 'a' } } }));
  w.settle();
  t.match(w.live('web')[0]!.spec, { NodeID: 'n1', Status: { State: 'assigned' } });
});

t.test('constraints: parsing and matching like swarmkit', async (t) => {
  const facts = { id: 'abc', hostname: 'Worker-1', role: 'worker', os: 'linux', arch: 'x86_64', labels: { zone: 'A', 'x.y': '1' }, engineLabels: { disk: 'SSD', zone: 'b' } };
  const ok = (c: string[]): boolean => nodeMatches(parseConstraints(c), facts);
  t.ok(ok(['node.id==abc']));
  t.ok(ok(['node.hostname==worker-1']), 'values compare case-insensitively');
  t.ok(ok(['node.hostname != other', 'node.role==worker']));
  t.ok(ok(['node.labels.zone==a', 'node.labels.x.y==1']));
  t.notOk(ok(['node.labels.ZONE==a']), 'label keys are case-sensitive');
  t.ok(ok(['node.labels.missing!=x']), 'a missing label is the empty value');
  t.notOk(ok(['node.role==manager']));
  t.ok(ok(['engine.labels.disk==ssd']), 'engine labels: what the node reported');
  t.ok(ok(['ENGINE.LABELS.disk==ssd']), 'the prefix is case-insensitive');
  t.notOk(ok(['node.labels.disk==ssd']), 'engine labels are not node labels');
  t.notOk(ok(['engine.labels.zone==a']), 'node labels are not engine labels');
  t.ok(ok(['engine.labels.constructor!=x', 'node.labels.constructor!=x']), 'only own labels count (a missing one is empty)');
  t.notOk(ok(['node.ip==1.2.3.4']), 'unknown keys match no node');
  t.throws(() => parseConstraints(['node.id']), { message: 'constraint expects one operator from ==, !=' });
  t.throws(() => parseConstraints(['no de==x']), { message: "key 'no de' is invalid" });
  t.throws(() => parseConstraints(['node.id==a>b']), { message: "value 'a>b' is invalid" });
});

t.test('global: one task per eligible node; a new node gets one; drain removes it', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.addNode('n2', { labels: { gpu: 'no' } });
  w.addNode('n3', { availability: 'pause' });
  w.setService('agent', spec({ global: true, constraints: ['node.labels.gpu!=no'] }));
  w.settle();
  t.same(w.perNode('agent'), { n1: 1 });
  t.equal(w.live('agent')[0]!.spec.Slot, 0);
  w.addNode('n4');
  w.settle();
  t.same(w.perNode('agent'), { n1: 1, n4: 1 });
  w.setNode('n1', (n) => ({ ...n, Spec: { ...n.Spec, Availability: 'drain' } }));
  w.settle();
  t.same(w.perNode('agent'), { n4: 1 }, 'not replaced elsewhere');
  t.equal(w.of('agent').find((x) => x.spec.NodeID === 'n1')!.spec.DesiredState, 'shutdown');
});

t.test('restart policy: delay, on-failure, none, MaxAttempts', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.setService('web', spec({ replicas: 1, restart: { Condition: 'any', Delay: Number(5n * SEC), MaxAttempts: 2 } }));
  w.settle();
  const first = w.live('web')[0]!;
  w.report(first.id, 'running');
  w.report(first.id, 'failed', 1);
  w.settle();
  const second = w.live('web')[0]!;
  t.not(second.id, first.id, 'replaced');
  t.match(second.spec, { Slot: 1, DesiredState: 'ready', restarts: 1, Status: { State: 'assigned' } }, 'waits for its restart delay');
  t.ok(w.lastPlan!.wakeAt, 'the loop is told when to look again');
  t.equal(w.tasks.get(first.id)!.spec.DesiredState, 'shutdown');
  w.advance(5n * SEC);
  w.settle();
  t.equal(w.tasks.get(second.id)!.spec.DesiredState, 'running', 'starts after the delay');
  w.report(second.id, 'complete', 0);
  w.settle();
  const third = w.live('web')[0]!;
  t.equal(third.spec.restarts, 2);
  w.advance(5n * SEC);
  w.settle();
  w.report(third.id, 'failed', 1);
  w.settle();
  t.equal(w.live('web').length, 0, 'MaxAttempts=2 reached: no more restarts');
  t.equal(w.of('web').length, 3, 'and no new task either on the next passes');

  const n = new World();
  n.addNode('n1');
  n.setService('once', spec({ replicas: 1, restart: { Condition: 'none' } }));
  n.setService('onfail', spec({ replicas: 1, restart: { Condition: 'on-failure' } }));
  n.settle();
  n.report(n.live('once')[0]!.id, 'failed', 3);
  const okTask = n.live('onfail')[0]!.id;
  n.report(okTask, 'complete', 0);
  n.settle();
  t.equal(n.live('once').length, 0, 'none: never restarted');
  t.equal(n.live('onfail').length, 0, 'on-failure: a clean exit is not restarted');
  n.setService('onfail2', spec({ replicas: 1, restart: { Condition: 'on-failure' } }));
  n.settle();
  n.report(n.live('onfail2')[0]!.id, 'failed', 2);
  n.settle();
  t.equal(n.live('onfail2').length, 1, 'on-failure: a failure is restarted');
  // An update of the spec gives a slot held by a declined restart a new task.
  n.setService('once', spec({ replicas: 1, restart: { Condition: 'none' }, image: 'alpine:2' }));
  n.settle();
  t.equal(n.live('once').length, 1);
});

t.test(`history: the newest ${TASK_HISTORY} old tasks per slot are kept`, async (t) => {
  const w = new World();
  w.addNode('n1');
  w.setService('web', spec({ replicas: 2 }));
  w.settle();
  for (let i = 0; i < 9; i++) {
    const cur = w.live('web').find((x) => x.spec.Slot === 1)!;
    w.report(cur.id, 'failed', 1);
    w.settle();
  }
  const slot1 = w.of('web').filter((x) => x.spec.Slot === 1);
  t.equal(slot1.length, TASK_HISTORY + 1, 'one live task and five old ones');
  t.equal(slot1.filter((x) => x.spec.DesiredState === 'running').length, 1);
  t.equal(w.of('web').filter((x) => x.spec.Slot === 2).length, 1, 'the other slot is untouched');
  t.equal(slot1.sort((a, b) => a.id.localeCompare(b.id)).at(-1)!.spec.restarts, 9);
});

t.test('drain moves tasks at once; a down node\'s tasks are rescheduled; a removed node too', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.addNode('n2');
  w.setService('web', spec({ replicas: 2, restart: { Delay: Number(10n * SEC) } }));
  w.settle();
  t.same(w.perNode('web'), { n1: 1, n2: 1 });
  w.setNode('n1', (n) => ({ ...n, Spec: { ...n.Spec, Availability: 'drain' } }));
  w.settle();
  t.same(w.perNode('web'), { n2: 2 }, 'moved without waiting for the restart delay');
  t.ok(w.live('web').every((x) => x.spec.DesiredState === 'running'));
  w.setNode('n1', (n) => ({ ...n, Spec: { ...n.Spec, Availability: 'active' } }));
  w.setNode('n2', (n) => ({ ...n, Status: { ...n.Status, State: 'down' } }));
  w.settle();
  t.same(w.perNode('web'), { n1: 2 }, 'rescheduled off the down node');
  t.ok(w.of('web').filter((x) => x.spec.NodeID === 'n2').every((x) => x.spec.DesiredState === 'shutdown'));
  w.addNode('n3');
  w.removeNode('n1');
  w.settle();
  t.same(w.perNode('web'), { n3: 2 }, 'rescheduled off a removed node');

  // Moving off a lost node is not a failure: it happens even with Condition none, and counts no restart.
  const n = new World();
  n.addNode('a');
  n.setService('once', spec({ replicas: 1, restart: { Condition: 'none' } }));
  n.settle();
  n.addNode('b');
  n.setNode('a', (x) => ({ ...x, Status: { ...x.Status, State: 'down' } }));
  n.settle();
  t.same(n.perNode('once'), { b: 1 });
  t.equal(n.live('once')[0]!.spec.restarts, 0);
});

t.test('updates: secrets-only keeps tasks under the live label (spec updated in place); other changes and ForceUpdate replace', async (t) => {
  const w = new World();
  w.addNode('n1');
  const s1 = { SecretID: 'sid1', SecretName: 'a', File: { Name: 'a', UID: '0', GID: '0', Mode: 292 } };
  const s2 = { SecretID: 'sid2', SecretName: 'b', File: { Name: 'b', UID: '0', GID: '0', Mode: 292 } };
  const live = { Labels: { 'com.runsecrets.secret-update': 'live' } };
  w.setService('web', { ...spec({ replicas: 2, secrets: [s1] }), ...live });
  w.settle();
  const before = w.live('web').map((x) => x.id).sort();
  for (const id of before) w.report(id, 'running');
  w.setService('web', { ...spec({ replicas: 2, secrets: [s2] }), ...live });
  w.settle();
  t.same(w.live('web').map((x) => x.id).sort(), before, 'same tasks');
  t.equal(w.of('web').length, 2, 'no task replaced');
  for (const x of w.live('web')) {
    t.same((x.spec.Spec.ContainerSpec as { Secrets: unknown[] }).Secrets, [s2], 'task spec carries the new refs');
    t.equal(x.spec.Status.State, 'running');
  }
  t.equal(compareTemplates({ a: 1, ContainerSpec: { Image: 'x', Secrets: [] } }, { ContainerSpec: { Secrets: [s1], Image: 'x' }, a: 1 }), 'refs');

  w.setService('web', { ...spec({ replicas: 2, secrets: [s2], force: 1 }), ...live });
  w.converge();
  const after = w.live('web').map((x) => x.id).sort();
  t.equal(after.length, 2);
  t.notOk(after.some((id) => before.includes(id)), 'ForceUpdate replaces every task');
  t.ok(before.every((id) => w.tasks.get(id)!.spec.DesiredState === 'shutdown'));
  w.setService('web', { ...spec({ replicas: 2, secrets: [s2], force: 1, image: 'alpine:3' }), ...live });
  w.converge();
  t.notOk(w.live('web').some((x) => after.includes(x.id)), 'an image change replaces them too');
  t.same(w.live('web').map((x) => x.spec.Slot).sort(), [1, 2], 'in the same slots');
});

t.test('scale down removes the highest slots; service removal deletes what nothing runs', async (t) => {
  const w = new World();
  w.addNode('n1');
  w.setService('web', spec({ replicas: 3 }));
  w.settle();
  const s3 = w.live('web').find((x) => x.spec.Slot === 3)!;
  w.setService('web', spec({ replicas: 2 }));
  w.settle();
  t.same(w.live('web').map((x) => x.spec.Slot).sort(), [1, 2]);
  t.equal(w.tasks.get(s3.id)!.spec.DesiredState, 'remove', 'assigned: kept until its agent stops it');
  w.report(s3.id, 'shutdown');
  w.settle();
  t.notOk(w.tasks.has(s3.id), 'deleted once stopped');
  w.setService('idle', spec({ replicas: 1, constraints: ['node.id==none'] }));
  w.settle();
  t.equal(w.of('idle').length, 1);
  w.removeService('idle');
  w.removeService('web');
  w.settle();
  t.equal(w.of('idle').length, 0, 'a pending task goes at once');
  t.ok(w.of('web').every((x) => x.spec.DesiredState === 'remove'), 'assigned tasks wait for their agent');
});
