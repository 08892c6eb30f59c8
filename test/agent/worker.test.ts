// The worker (agent/worker.ts) on a fake runtime and a real tree, no mount and no processes: files in their folders
// before a task starts, the runtime's spec, states reported, output to the log sink, folders and logs removed.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createLogger } from '../../shared/log.js';
import type { AgentMessage } from '../../shared/protocol.js';
import { Worker } from '../../agent/worker.js';
import { ROOT_ONLY_MODE, SecretTree } from '../../agent/secretstore/tree.js';
import { TaskRecords } from '../../agent/executor/task-records.js';
import { FINAL_STATES, type TaskStatus } from '../../agent/executor/spec.js';
import type { ContainerInfo, ExecRequest, HostCommand, RuntimeTaskSpec, TaskRuntime } from '../../agent/runtime/runtime.js';
import type { AssignMessage } from '../../agent/session/session.js';

class FakeRuntime extends EventEmitter implements TaskRuntime {
  readonly name = 'oci' as const;
  started: RuntimeTaskSpec[] = [];
  removed: string[] = [];
  states = new Map<string, TaskStatus>();
  set(id: string, state: TaskStatus['state']): TaskStatus {
    const s: TaskStatus = { id, state, message: state, timestamp: new Date().toISOString() };
    this.states.set(id, s);
    this.emit('status', s);
    return s;
  }
  async start(spec: RuntimeTaskSpec): Promise<TaskStatus> {
    this.started.push(spec);
    this.emit('launched', { id: spec.id, pid: 4242 });
    return this.set(spec.id, 'running');
  }
  async stop(id: string): Promise<TaskStatus> {
    return this.set(id, 'shutdown');
  }
  async stopAll(): Promise<void> {
    for (const [id, s] of this.states) if (!FINAL_STATES.has(s.state)) this.set(id, 'shutdown');
  }
  async remove(id: string): Promise<void> {
    this.removed.push(id);
    this.states.delete(id);
  }
  status(id: string): TaskStatus | undefined {
    return this.states.get(id);
  }
  list(): TaskStatus[] {
    return [...this.states.values()];
  }
  inspect(): ContainerInfo | undefined {
    return undefined;
  }
  execCommand(_id: string, _req: ExecRequest): HostCommand {
    throw new Error('not here');
  }
  signals: Array<[string, string]> = [];
  /** Records the signal with what the task's folder held at that moment (the new bytes must be there). */
  onSignal: (id: string) => string = () => '';
  async signal(id: string, sig: NodeJS.Signals): Promise<void> {
    this.signals.push([id, `${sig}:${this.onSignal(id)}`]);
  }
}

const until = async (what: string, cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error(`never: ${what}`);
};

t.test('assignments to folders and tasks, states to the manager, output to the log sink', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'rs-worker-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const tree = new SecretTree({ rootMode: ROOT_ONLY_MODE });
  const runtime = new FakeRuntime();
  const sent: Array<Extract<AgentMessage, { type: 'status' }>> = [];
  const logs: string[] = [];
  const records = new TaskRecords(stateDir);
  const w = new Worker({
    nodeId: 'node1', mountPoint: '/m', tree, publish: async () => undefined, runtime, configs: 'root', records,
    diedWithAgent: new Set(), send: (m) => sent.push(m), scrubSoon: () => undefined, log: createLogger('test', 'silent'),
    logSink: { write: (id, stream, chunk) => logs.push(`${id}/${stream}/${chunk.toString()}`), remove: (id) => logs.push(`removed ${id}`) },
  });
  const msg: AssignMessage = {
    type: 'assign', full: true, removeTasks: [], removeObjects: [],
    objects: [{ kind: 'secret', id: 's1', version: 1, blob: 0 }, { kind: 'config', id: 'c1', version: 1, blob: 1 }],
    tasks: [{
      id: 'tk1', version: 1, serviceId: 'svc', serviceName: 'web', slot: 1, desiredState: 'running', image: 'busybox@sha256:' + 'a'.repeat(64), command: ['sleep', '1d'],
      files: [
        { kind: 'secret', id: 's1', target: 'pw', uid: 0, gid: 0, mode: 0o400 },
        { kind: 'config', id: 'c1', target: 'site.conf', uid: 0, gid: 0, mode: 0o444 },
        { kind: 'secret', id: 's1', target: '/etc/app/pw', uid: 0, gid: 0, mode: 0o400 },
      ],
    }],
  };
  await w.apply(msg, [Buffer.from('pw-bytes'), Buffer.from('cfg-bytes')]);
  await w.synced;
  t.same(tree.taskNames().sort(), ['tk1', 'tk1.files']);
  t.ok(tree.resolve('/tk1/pw') && !tree.resolve('/tk1/site.conf'), "the task's folder: its secret only");
  t.ok(tree.resolve('/tk1.files/configs/site.conf') && tree.resolve('/tk1.files/abs/etc/app/pw'), 'the files folder: the config and the absolute target');
  t.equal(tree.resolve('/tk1.files')!.uid, 0, "the files folder is root's");
  t.equal(runtime.started.length, 1, 'started once');
  const spec = runtime.started[0]!;
  t.same([spec.name, spec.image, spec.labels?.['com.docker.swarm.service.name'], spec.secretsDir, spec.filesDir], ['web.1.tk1', msg.tasks[0]!.image, 'web', '/m/tk1', '/m/tk1.files']);
  t.same(spec.configMounts, [{ source: '/m/tk1.files/configs/site.conf', target: 'site.conf' }]);
  t.same(records.ids(), ['tk1'], "the task's process is recorded (killed by the next agent after a crash)");
  await until('running reported', () => sent.some((m) => m.state === 'running'));

  runtime.emit('output', { id: 'tk1', stream: 'stdout', chunk: Buffer.from('hello') });
  t.same(logs, ['tk1/stdout/hello'], "the task's output goes to the log sink");

  sent.length = 0;
  w.resend();
  t.same(sent.map((m) => [m.taskId, m.state]), [['tk1', 'running']], 'after a reconnection: the last state again');

  await w.apply({ ...msg, full: false, objects: [], tasks: [], removeTasks: ['tk1'] }, []);
  await until('the task removed', () => runtime.removed.includes('tk1'));
  t.same(tree.taskNames(), [], 'both folders removed');
  t.same(logs.at(-1), 'removed tk1', 'its logs go with it');
  t.same(records.ids(), [], 'the record goes when the task ends');
  await w.stop();
});

t.test('signal:SIGNAME mode: a running task whose files change in place gets the signal after they are published', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'rs-worker-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const tree = new SecretTree({ rootMode: ROOT_ONLY_MODE });
  const runtime = new FakeRuntime();
  let published = 0;
  runtime.onSignal = (id) => `${published}:${tree.resolve(`/${id}/pw`) ? 'pw' : '-'}:${tree.resolve(`/${id}/pw2`) ? 'pw2' : '-'}`;
  const w = new Worker({
    nodeId: 'node1', mountPoint: '/m', tree, publish: async () => void published++, runtime, configs: 'root', records: new TaskRecords(stateDir),
    diedWithAgent: new Set(), send: () => undefined, scrubSoon: () => undefined, log: createLogger('test', 'silent'),
  });
  const task = {
    id: 'tk1', version: 1, serviceId: 'svc', serviceName: 'web', slot: 1, desiredState: 'running', command: ['sleep', '1d'], refreshSignal: 'SIGHUP',
    files: [{ kind: 'secret' as const, id: 's1', target: 'pw', uid: 0, gid: 0, mode: 0o400 }],
  };
  await w.apply({ type: 'assign', full: true, removeTasks: [], removeObjects: [], objects: [{ kind: 'secret', id: 's1', version: 1, blob: 0 }], tasks: [task] }, [Buffer.from('one')]);
  await until('running', () => runtime.states.get('tk1')?.state === 'running');
  t.same(runtime.signals, [], 'no signal at start');
  await w.apply({ type: 'assign', full: false, removeTasks: [], removeObjects: [], objects: [], tasks: [{ ...task, version: 2 }] }, []);
  t.same(runtime.signals, [], 'no signal when its files did not change');
  const before = published;
  const next = { ...task, version: 3, files: [{ kind: 'secret' as const, id: 's2', target: 'pw2', uid: 0, gid: 0, mode: 0o400 }] };
  await w.apply({ type: 'assign', full: false, removeTasks: [], removeObjects: [{ kind: 'secret', id: 's1' }], objects: [{ kind: 'secret', id: 's2', version: 1, blob: 0 }], tasks: [next] }, [Buffer.from('two')]);
  t.same(runtime.signals, [['tk1', `SIGHUP:${before + 1}:-:pw2`]], 'one SIGHUP, once the new file was published and the old one gone');
  const { refreshSignal: _drop, ...noSignal } = next;
  await w.apply({ type: 'assign', full: false, removeTasks: [], removeObjects: [], objects: [], tasks: [{ ...noSignal, version: 4, files: task.files }] }, []);
  t.equal(runtime.signals.length, 1, 'no refreshSignal: no signal');
  await w.stop();
});
