// Templated secrets and configs in the worker (agent/worker.ts, agent/template/payload.ts) on a fake runtime and a
// real tree: rendered per task with Swarm's context and functions, Docker's Err when a template fails (the task
// FAILED, never started, no folder), a task reaching only its own secrets, and the protocol fields that carry it.
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createLogger } from '../../shared/log.js';
import { encodeFrame, parseManagerMessage, type AgentMessage, type TaskAssignment } from '../../shared/protocol.js';
import { Worker } from '../../agent/worker.js';
import { ROOT_ONLY_MODE, SecretTree } from '../../agent/secretstore/tree.js';
import { TaskRecords } from '../../agent/executor/task-records.js';
import type { TaskStatus } from '../../agent/executor/spec.js';
import type { ContainerInfo, ExecRequest, HostCommand, RuntimeTaskSpec, TaskRuntime } from '../../agent/runtime/runtime.js';
import type { AssignMessage } from '../../agent/session/session.js';
import { hostPlatform } from '../../agent/template/payload.js';

class FakeRuntime extends EventEmitter implements TaskRuntime {
  readonly name = 'process' as const;
  started: string[] = [];
  specs: RuntimeTaskSpec[] = [];
  async start(spec: RuntimeTaskSpec): Promise<TaskStatus> {
    this.started.push(spec.id);
    this.specs.push(spec);
    const s: TaskStatus = { id: spec.id, state: 'running', message: 'running', timestamp: new Date().toISOString() };
    this.emit('status', s);
    return s;
  }
  async stop(id: string): Promise<TaskStatus> {
    return { id, state: 'shutdown', message: 'shutdown', timestamp: new Date().toISOString() };
  }
  async stopAll(): Promise<void> {}
  async signal(_id: string, _signal: NodeJS.Signals): Promise<void> {}
  async remove(): Promise<void> {}
  status(): TaskStatus | undefined {
    return undefined;
  }
  list(): TaskStatus[] {
    return [];
  }
  inspect(): ContainerInfo | undefined {
    return undefined;
  }
  execCommand(_id: string, _req: ExecRequest): HostCommand {
    throw new Error('not here');
  }
}

const until = async (what: string, cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error(`never: ${what}`);
};

function setup(t: Test): { w: Worker; tree: SecretTree; runtime: FakeRuntime; sent: Array<Extract<AgentMessage, { type: 'status' }>> } {
  const stateDir = mkdtempSync(join(tmpdir(), 'rs-wtpl-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const tree = new SecretTree({ rootMode: ROOT_ONLY_MODE });
  const runtime = new FakeRuntime();
  const sent: Array<Extract<AgentMessage, { type: 'status' }>> = [];
  const w = new Worker({
    nodeId: 'node1', mountPoint: '/m', tree, publish: async () => undefined, runtime, configs: 'secrets-folder', records: new TaskRecords(stateDir),
    diedWithAgent: new Set(), send: (m) => sent.push(m), scrubSoon: () => undefined, log: createLogger('test', 'silent'), nodeHostname: 'host-a',
  });
  t.teardown(() => w.stop());
  return { w, tree, runtime, sent };
}

const task = (id: string, slot: number, files: TaskAssignment['files']): TaskAssignment => ({
  id, version: 1, serviceId: 'svc1', serviceName: 'web', slot, desiredState: 'running', command: ['true'],
  env: ['DB_USER=alice', 'NOEQ'], serviceLabels: { tier: 'front', 'a.b': 'x' }, files,
});

const read = (tree: SecretTree, path: string): string => {
  const n = tree.resolve(path);
  if (!n || n.kind !== 'file' || !n.content) return '<none>';
  return n.content.slice(0, 1 << 20)!.toString();
};

const CONFIG_TPL = [
  'svc={{.Service.ID}} {{.Service.Name}} {{.Service.Labels.tier}} {{index .Service.Labels "a.b"}}',
  'node={{.Node.ID}} {{.Node.Hostname}} {{.Node.Platform.OS}} {{.Node.Platform.Architecture}}',
  'task={{.Task.ID}} {{.Task.Name}} {{.Task.Slot}}',
  'env={{env "DB_USER"}}[{{env "NOEQ"}}] join={{join "," "a" "b"}} cfg={{config "plain.txt"}} pw={{secret "pw"}}',
].join('\n');

t.test('a templated config and secret, rendered per task', async (t) => {
  const { w, tree, runtime } = setup(t);
  const files = (): TaskAssignment['files'] => [
    { kind: 'secret', id: 's1', target: 'pw', uid: 0, gid: 0, mode: 0o400 },
    { kind: 'secret', id: 's2', target: 'dsn', uid: 0, gid: 0, mode: 0o400 },
    { kind: 'config', id: 'c1', target: 'app.conf', uid: 0, gid: 0, mode: 0o444 },
    { kind: 'config', id: 'c2', target: 'plain.txt', uid: 0, gid: 0, mode: 0o444 },
  ];
  const msg: AssignMessage = {
    type: 'assign', full: true, removeTasks: [], removeObjects: [],
    objects: [
      { kind: 'secret', id: 's1', version: 1, blob: 0 },
      { kind: 'secret', id: 's2', version: 1, blob: 1, templating: 'golang' },
      { kind: 'config', id: 'c1', version: 1, blob: 2, templating: 'golang' },
      { kind: 'config', id: 'c2', version: 1, blob: 3 },
    ],
    tasks: [task('tk1', 1, files()), task('tk2', 2, files())],
  };
  await w.apply(msg, [Buffer.from('hunter2'), Buffer.from('postgres://{{env "DB_USER"}}:{{secret "pw"}}@db/{{.Task.Slot}}'), Buffer.from(CONFIG_TPL), Buffer.from('PLAIN')]);
  const { os, architecture } = hostPlatform();
  t.equal(read(tree, '/tk1/app.conf'), [
    'svc=svc1 web front x',
    `node=node1 host-a ${os} ${architecture}`,
    'task=tk1 web.1.tk1 1',
    'env=alice[] join=a,b cfg=PLAIN pw=hunter2',
  ].join('\n'), 'every context field and function');
  t.match(read(tree, '/tk2/app.conf'), /task=tk2 web\.2\.tk2 2/, 'each task its own rendering');
  t.equal(read(tree, '/tk1/dsn'), 'postgres://alice:hunter2@db/1');
  t.equal(read(tree, '/tk2/dsn'), 'postgres://alice:hunter2@db/2');
  t.equal(read(tree, '/tk1/pw'), 'hunter2', 'a plain secret is not rendered');
  t.same(runtime.started.sort(), ['tk1', 'tk2']);
});

t.test('a template error fails the task with Docker\'s Err; secret reaches only its own task', async (t) => {
  const { w, tree, runtime, sent } = setup(t);
  const msg: AssignMessage = {
    type: 'assign', full: true, removeTasks: [], removeObjects: [],
    objects: [
      { kind: 'secret', id: 's1', version: 1, blob: 0 },
      { kind: 'config', id: 'cbad', version: 1, blob: 1, templating: 'golang' },
      { kind: 'config', id: 'cpw', version: 1, blob: 2, templating: 'golang' },
      { kind: 'secret', id: 'sdrv', version: 1, blob: 3, templating: 'jinja' },
    ],
    tasks: [
      task('bad', 1, [{ kind: 'config', id: 'cbad', target: 'c', uid: 0, gid: 0, mode: 0o444 }]),
      // The same config that pulls a secret in, in a task not granted that secret.
      task('nopw', 2, [{ kind: 'config', id: 'cpw', target: 'c', uid: 0, gid: 0, mode: 0o444 }]),
      task('haspw', 3, [{ kind: 'config', id: 'cpw', target: 'c', uid: 0, gid: 0, mode: 0o444 }, { kind: 'secret', id: 's1', target: 'pw', uid: 0, gid: 0, mode: 0o400 }]),
      task('drv', 4, [{ kind: 'secret', id: 'sdrv', target: 'x', uid: 0, gid: 0, mode: 0o400 }]),
    ],
  };
  await w.apply(msg, [Buffer.from('hunter2'), Buffer.from('a\n{{.Service.Nope}}'), Buffer.from('pw={{secret "pw"}}'), Buffer.from('x')]);
  await until('three failures', () => sent.filter((m) => m.state === 'failed').length === 3);
  const err = (id: string): string | undefined => sent.find((m) => m.taskId === id && m.state === 'failed')?.err;
  t.equal(err('bad'), 'starting container failed: unable to get config from config store: failed to expand templated config cbad: template: expansion:2:2: executing "expansion" at <.Service.Nope>: can\'t evaluate field Nope in type struct { ID string; Name string; Labels map[string]string }');
  t.equal(err('nopw'), 'starting container failed: unable to get config from config store: failed to expand templated config cpw: template: expansion:1:5: executing "expansion" at <secret "pw">: error calling secret: secret target pw not found');
  t.equal(err('drv'), 'starting container failed: unable to get secret from secret store: failed to expand templated secret sdrv: unrecognized template type');
  t.same(runtime.started, ['haspw'], 'failed tasks never start');
  t.equal(read(tree, '/haspw/c'), 'pw=hunter2');
  t.notOk(tree.hasTask('nopw') || tree.hasTask('bad') || tree.hasTask('drv'), 'no folder for a failed task');
});

t.test('the protocol carries templating and service labels', async (t) => {
  const a = task('tk1', 1, []);
  const frame = encodeFrame({ type: 'assign', full: true, tasks: [a], removeTasks: [], removeObjects: [], objects: [{ kind: 'config', id: 'c1', version: 2, blob: 0, templating: 'golang' }] }, [Buffer.from('x')]);
  const { msg } = parseManagerMessage(frame);
  if (msg.type !== 'assign') throw new Error('not an assign');
  t.same(msg.objects[0], { kind: 'config', id: 'c1', version: 2, blob: 0, templating: 'golang' });
  t.same(msg.tasks[0]!.serviceLabels, { tier: 'front', 'a.b': 'x' });
  const bad = encodeFrame({ type: 'assign', full: true, tasks: [], removeTasks: [], removeObjects: [], objects: [{ kind: 'config', id: 'c1', version: 2, blob: 0, templating: 7 as unknown as string }] }, [Buffer.from('x')]);
  t.throws(() => parseManagerMessage(bad), /object c1: templating is not a string/);
});

t.test('ContainerSpec templating: Env values and Hostname expanded before the start, Docker\'s Err when not', async (t) => {
  const { w, runtime, sent, tree } = setup(t);
  const base = task('ok', 2, []);
  const msg: AssignMessage = {
    type: 'assign', full: true, removeTasks: [], removeObjects: [], objects: [],
    tasks: [
      { ...base, env: ['NODE={{.Node.Hostname}}/{{.Node.Platform.OS}}', 'SLOT={{.Task.Slot}}', 'J={{join "-" .Service.Name "x"}}', 'RAW', 'PLAIN=a'], hostname: '{{.Service.Name}}-{{.Task.Slot}}' },
      { ...task('badenv', 3, []), env: ['A=1', 'X={{.Nope}}'] },
      { ...task('badhost', 4, []), hostname: '{{secret "pw"}}' },
      { ...task('envfn', 5, []), env: ['E={{env "A"}}'] },
    ],
  };
  await w.apply(msg, []);
  await until('three rejections', () => sent.filter((m) => m.state === 'rejected').length === 3);
  t.same(runtime.started, ['ok'], 'only the task whose templates expand starts');
  const spec = runtime.specs[0]!;
  t.same(spec.env, ['NODE=host-a/linux', 'SLOT=2', 'J=web-x', 'RAW', 'PLAIN=a']);
  t.equal(spec.hostname, 'web-2');
  const rejected = (id: string): { message?: string; err?: string } | undefined => sent.find((m) => m.taskId === id && m.state === 'rejected');
  t.same(rejected('badenv'), { type: 'status', taskId: 'badenv', state: 'rejected', message: 'resolving controller failed',
    err: 'expanding env failed: expanding env "X={{.Nope}}": template: expansion:1:2: executing "expansion" at <.Nope>: can\'t evaluate field Nope in type *template.Context' });
  t.equal(rejected('badhost')?.err, 'expanding hostname failed: template: expansion:1: function "secret" not defined', 'no secret function here');
  t.equal(rejected('envfn')?.err, 'expanding env failed: expanding env "E={{env \\"A\\"}}": template: expansion:1: function "env" not defined', 'nor env');
  t.notOk(tree.hasTask('badenv'), 'a rejected task gets no folder');
});
