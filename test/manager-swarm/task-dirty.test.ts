// swarmkit's IsTaskDirty as the `_up-to-date` filter uses it: equal templates are clean, any other change is dirty,
// except a change of placement constraints alone while the task's node still satisfies them.
import t from 'tap';
import { isTaskDirty } from '../../manager/orchestrator/task-dirty.js';
import type { NodeRecord } from '../../manager/orchestrator/types.js';
import type { StoredObject } from '../../manager/store/types.js';

const node = (labels: Record<string, string>): StoredObject<NodeRecord> => ({
  kind: 'node',
  id: 'n1',
  name: null,
  version: 1,
  createdAt: '',
  updatedAt: '',
  spec: {
    Spec: { Labels: labels, Role: 'worker', Availability: 'active' },
    Description: { Hostname: 'h1', Platform: { Architecture: 'x86_64', OS: 'linux' } },
    Status: { State: 'ready', Addr: '' },
    certSerials: [],
  },
});
const tpl = (o: Record<string, unknown> = {}): Record<string, unknown> => ({ ContainerSpec: { Image: 'alpine', Env: ['A=1'] }, ForceUpdate: 0, Runtime: 'container', ...o });

t.test('equal templates are clean, whatever the key order', async (t) => {
  t.notOk(isTaskDirty(tpl(), { Runtime: 'container', ForceUpdate: 0, ContainerSpec: { Env: ['A=1'], Image: 'alpine' } }, undefined));
});

t.test('any other change is dirty, ForceUpdate included', async (t) => {
  t.ok(isTaskDirty(tpl({ ForceUpdate: 1 }), tpl(), node({})));
  t.ok(isTaskDirty(tpl({ ContainerSpec: { Image: 'alpine:3' } }), tpl(), node({})));
});

t.test('placement constraints alone: clean while the node satisfies them', async (t) => {
  const placed = tpl({ Placement: { Constraints: ['node.labels.zone==a'] } });
  t.notOk(isTaskDirty(placed, tpl(), node({ zone: 'a' })), 'node in zone a');
  t.ok(isTaskDirty(placed, tpl(), node({ zone: 'b' })), 'node in zone b');
  t.ok(isTaskDirty(placed, tpl(), undefined), 'no node yet');
  t.ok(isTaskDirty({ ...placed, ForceUpdate: 2 }, tpl(), node({ zone: 'a' })), 'placement and something else');
});
