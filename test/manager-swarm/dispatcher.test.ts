// Unit tests of the session protocol's framing and of what the dispatcher derives from a node's tasks.
import t from 'tap';
import { decodeFrame, encodeFrame, ProtocolError, type ManagerMessage } from '../../shared/protocol.js';
import { isNodeTask, referencedObjects, toAssignment } from '../../manager/dispatcher/assignments.js';
import type { StoredObject } from '../../manager/store/types.js';
import type { TaskRecord } from '../../manager/orchestrator/types.js';

t.test('frames: metadata as JSON, bytes as blobs, round trip', (t) => {
  const secret = Buffer.from([0, 1, 2, 255, 0x22, 0x5c]); // bytes JSON would have to escape
  const f = encodeFrame({ type: 'assign', full: true, tasks: [], removeTasks: [], objects: [{ kind: 'secret', id: 'x', version: 3, blob: 0 }], removeObjects: [] }, [secret, Buffer.alloc(0)]);
  const hlen = f.readUInt32BE(0);
  t.notOk(f.subarray(4, 4 + hlen).includes(secret), 'the bytes are not in the JSON header');
  const d = decodeFrame<ManagerMessage>(f);
  t.equal(d.msg.type, 'assign');
  t.same(Buffer.from(d.blobs[0]!), secret, 'blob 0 intact');
  t.equal(d.blobs[1]!.length, 0, 'empty blob');
  t.notOk('blobs' in d.msg, 'lengths are framing, not message');
  t.end();
});

t.test('frames: malformed input is refused with a reason', (t) => {
  t.throws(() => decodeFrame(Buffer.from([0, 0])), ProtocolError);
  t.throws(() => decodeFrame(Buffer.from([0, 0, 0, 9, 1])), /overruns/);
  const bad = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('{]')]);
  t.throws(() => decodeFrame(bad), /not valid JSON/);
  const ok = encodeFrame({ type: 'heartbeat' }, [Buffer.from('ab')]);
  t.throws(() => decodeFrame(ok.subarray(0, ok.length - 1)), /overruns/);
  t.throws(() => decodeFrame(Buffer.concat([ok, Buffer.from('z')])), /trailing/);
  t.end();
});

function task(over: Partial<TaskRecord>, id = 't1'): StoredObject<TaskRecord> {
  const spec: TaskRecord = {
    ServiceID: 's', Slot: 1, NodeID: 'n1', Labels: {}, ServiceName: 'web', restarts: 0, DesiredState: 'running',
    Status: { Timestamp: '', State: 'assigned', Message: '' },
    Spec: {
      ContainerSpec: {
        Command: ['sleep'], Args: ['1d'], User: '1000:1000', StopGracePeriod: 2_000_000_000,
        Secrets: [{ SecretID: 'S1', SecretName: 'pw', File: { Name: 'pw', UID: '1000', GID: '0', Mode: 0o400 } }, { SecretID: 'S2', SecretName: 'other' }],
        Configs: [{ ConfigID: 'C1', ConfigName: 'cfg', File: { Name: '/etc/app.conf', UID: '0', GID: '0', Mode: 0o444 } }, { ConfigID: 'C2', ConfigName: 'rt', Runtime: {} }],
      },
    },
    ...over,
  };
  return { kind: 'task', id, name: null, version: 7, createdAt: '', updatedAt: '', spec };
}

t.test('a node gets its own live tasks only', (t) => {
  t.ok(isNodeTask(task({}), 'n1'));
  t.notOk(isNodeTask(task({}), 'n2'), "another node's task");
  t.notOk(isNodeTask(task({ DesiredState: 'shutdown' }), 'n1'), 'desired shutdown');
  t.notOk(isNodeTask(task({ Status: { Timestamp: '', State: 'failed', Message: '' } }), 'n1'), 'finished');
  t.end();
});

t.test('assignments carry references, never data; only referenced objects are wanted', (t) => {
  const a = toAssignment(task({}));
  t.same(a.files, [
    { kind: 'secret', id: 'S1', target: 'pw', uid: 1000, gid: 0, mode: 0o400 },
    { kind: 'secret', id: 'S2', target: 'other', uid: 0, gid: 0, mode: 0o444 },
    { kind: 'config', id: 'C1', target: '/etc/app.conf', uid: 0, gid: 0, mode: 0o444 },
  ], 'secret without File gets its name; runtime configs are not files');
  t.equal(a.stopGracePeriodMs, 2000);
  t.same([...referencedObjects([a])].sort(), ['config/C1', 'secret/S1', 'secret/S2']);
  t.end();
});

t.test("assignments carry the container's image, hostname and labels (ContainerSpec's, then the task's)", (t) => {
  const pinned = 'redis:alpine@sha256:' + 'a'.repeat(64);
  const base = task({});
  const cs = (base.spec.Spec.ContainerSpec ?? {}) as Record<string, unknown>;
  const withContainer = task({
    Labels: { 'from.task': 't', shared: 'task' },
    Spec: { ContainerSpec: { ...cs, Image: pinned, Hostname: '{{.Service.Name}}-1', Labels: { 'com.docker.stack.namespace': 'st', shared: 'spec' } } },
  });
  const a = toAssignment(withContainer);
  t.equal(a.image, pinned, 'the image as stored, digest included');
  t.equal(a.hostname, '{{.Service.Name}}-1', 'the hostname verbatim');
  t.same(a.labels, { 'com.docker.stack.namespace': 'st', shared: 'task', 'from.task': 't' }, "the task's labels win over the spec's");
  const plain = toAssignment(base);
  t.notOk('image' in plain || 'hostname' in plain || 'labels' in plain, 'absent fields stay absent');
  t.end();
});
