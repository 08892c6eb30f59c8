// The worker's decisions per assignment (agent/worker/task-table.ts), without processes or a mount.
import t from 'tap';
import type { FileRef, TaskAssignment } from '../../shared/protocol.js';
import { TaskTable, type Step } from '../../agent/worker/task-table.js';

const pw: FileRef = { kind: 'secret', id: 's1', target: 'pw', uid: 0, gid: 0, mode: 0o400 };
const task = (id: string, over: Partial<TaskAssignment> = {}): TaskAssignment => ({ id, version: 1, serviceId: 's', serviceName: 'web', slot: 1, desiredState: 'running', files: [pw], ...over });
const NOW = (): string => '2026-01-01T00:00:00.000Z';
const kinds = (steps: Step[]): string[] => steps.map((s) => `${s.kind}:${'id' in s ? s.id : s.task.a.id}${s.kind === 'files' ? (s.start ? '+start' : '') : ''}`);

t.test('new tasks get their files, then start once; updates rewrite files without a restart', async (t) => {
  const tt = new TaskTable(new Set(), 'secrets-folder');
  t.same(kinds(tt.plan({ full: true, tasks: [task('a'), task('b', { desiredState: 'ready' })], removeTasks: [] }, new Set(), NOW)), ['files:a+start', 'files:b']);
  t.same(kinds(tt.plan({ full: false, tasks: [task('a', { version: 2 })], removeTasks: [] }, new Set(), NOW)), ['files:a'], 'started once');
  t.same(kinds(tt.plan({ full: false, tasks: [task('b')], removeTasks: [] }, new Set(), NOW)), ['files:b+start'], 'desired running later: starts then');
  t.same(kinds(tt.plan({ full: false, tasks: [], removeTasks: [] }, new Set(['secret/s1']), NOW)), ['files:a', 'files:b'], 'a changed secret: files again for its tasks');
  t.same(kinds(tt.plan({ full: false, tasks: [], removeTasks: [] }, new Set(['secret/other']), NOW)), [], 'an unrelated object changes nothing');
});

t.test('removals: listed, or missing from a full state; a finished task gets no more files', async (t) => {
  const tt = new TaskTable(new Set(), 'secrets-folder');
  tt.plan({ full: true, tasks: [task('a'), task('b'), task('c')], removeTasks: [] }, new Set(), NOW);
  t.same(tt.plan({ full: false, tasks: [], removeTasks: ['a', 'zz'] }, new Set(), NOW), [{ kind: 'drop', id: 'a', known: true, diedWithAgent: false }], 'an unknown ID is nothing to drop');
  t.same(kinds(tt.plan({ full: true, tasks: [task('c')], removeTasks: [] }, new Set(), NOW)), ['drop:b', 'files:c']);
  const ended = tt.noteStatus({ id: 'c', state: 'complete', message: 'finished', timestamp: NOW() }, true);
  t.equal(ended?.finished, true, 'a final status ends it');
  t.same(kinds(tt.plan({ full: false, tasks: [task('c', { version: 3 })], removeTasks: [] }, new Set(['secret/s1']), NOW)), []);
  t.equal(tt.noteStatus({ id: 'nope', state: 'running', message: 'started', timestamp: NOW() }, false), undefined);
});

t.test('a task whose process died with the previous agent is reported failed, never started; one not listed is dropped', async (t) => {
  const died = new Set(['a', 'gone']);
  const tt = new TaskTable(died, 'secrets-folder');
  const steps = tt.plan({ full: true, tasks: [task('a'), task('b')], removeTasks: [] }, new Set(), NOW);
  t.same(kinds(steps), ['drop:gone', 'died-with-agent:a', 'files:b+start']);
  t.same(steps[0], { kind: 'drop', id: 'gone', known: false, diedWithAgent: true });
  t.match((steps[1] as Extract<Step, { kind: 'died-with-agent' }>).status, { state: 'failed', err: 'task process killed: the agent was restarted' });
  t.equal(died.size, 0);
  t.same(kinds(tt.plan({ full: false, tasks: [task('a', { version: 2 })], removeTasks: [] }, new Set(), NOW)), [], 'never started again');
});

t.test('a file that cannot be placed rejects the task before it starts', async (t) => {
  const tt = new TaskTable(new Set(), 'root');
  const steps = tt.plan({ full: true, tasks: [task('a', { files: [{ ...pw, target: '../x' }] })], removeTasks: [] }, new Set(), NOW);
  t.same(kinds(steps), ['reject:a']);
  t.match((steps[0] as Extract<Step, { kind: 'reject' }>).status, { state: 'rejected', message: 'rejected', err: /invalid secret target/ });
  t.same(tt.get('a')?.last?.state, 'rejected', 'its state is kept to report again after a reconnection');
});
