// The two session parsers (shared/protocol.ts): every frame becomes a typed message or a ProtocolError naming what
// is wrong. Each field wrong in type, missing, out of bounds; blobs that are missing, extra or shared; lengths
// that lie; unknown types; each direction's size limit.
import t from 'tap';
import {
  MAX_AGENT_FRAME_BYTES,
  MAX_HOSTNAME,
  MAX_IMAGE_REF,
  MAX_LABELS,
  MAX_LABEL_VALUE,
  MAX_REGISTRY_AUTH_FIELD,
  MAX_STATUS_TEXT,
  ProtocolError,
  clipStatusText,
  encodeAgentFrame,
  encodeFrame,
  parseAgentMessage,
  parseManagerMessage,
  type AgentMessage,
  type ManagerMessage,
} from '../../shared/protocol.js';

const frame = (m: Record<string, unknown>, blobs: Buffer[] = []): Buffer => encodeFrame(m as unknown as ManagerMessage, blobs);
const TASK = 'task0000000000000000000001';
const OBJ = 'obj00000000000000000000001';

t.test('agent messages: the valid ones, as fresh typed values', async (t) => {
  t.same(parseAgentMessage(encodeAgentFrame({ type: 'heartbeat' })), { type: 'heartbeat' });
  const full: AgentMessage = { type: 'status', taskId: TASK, state: 'failed', message: 'm', err: 'e', exitCode: -1 };
  t.same(parseAgentMessage(encodeAgentFrame(full)), full);
  t.same(parseAgentMessage(frame({ type: 'status', taskId: TASK, state: 'running' })), { type: 'status', taskId: TASK, state: 'running' });
  t.same(parseAgentMessage(frame({ type: 'heartbeat', extra: { deep: 1 } })), { type: 'heartbeat' }, 'unknown fields are dropped');
  t.same(parseAgentMessage(frame({ type: 'status', taskId: TASK, state: 'running', nodeId: 'other' })), { type: 'status', taskId: TASK, state: 'running' });
});

t.test('agent messages: each wrong field is refused, named', async (t) => {
  const st = (over: Record<string, unknown>): Buffer => frame({ type: 'status', taskId: TASK, state: 'running', ...over });
  const cases: [string, Buffer, RegExp][] = [
    ['no task ID', frame({ type: 'status', state: 'running' }), /taskId/],
    ['task ID a number', st({ taskId: 5 }), /taskId/],
    ['task ID a path', st({ taskId: '../x' }), /taskId/],
    ['task ID empty', st({ taskId: '' }), /taskId/],
    ['no state', frame({ type: 'status', taskId: TASK }), /state/],
    ['state an object', st({ state: {} }), /state/],
    ['state too long', st({ state: 'x'.repeat(65) }), /state/],
    ['message a number', st({ message: 1 }), /message/],
    ['message too long', st({ message: 'x'.repeat(MAX_STATUS_TEXT + 1) }), /message/],
    ['err null', st({ err: null }), /err/],
    ['exitCode a string', st({ exitCode: '1' }), /exitCode/],
    ['exitCode fractional', st({ exitCode: 1.5 }), /exitCode/],
    ['exitCode beyond 2^53', st({ exitCode: 2 ** 60 }), /exitCode/],
    ['unknown type', frame({ type: 'assign' }), /unknown message type "assign"/],
    ['type a number', frame({ type: 1 }), /no message type/],
    ['blobs', encodeFrame({ type: 'heartbeat' }, [Buffer.from('x')]), /no blobs/],
    ['blobs on a status', encodeFrame({ type: 'status', taskId: TASK, state: 'running' }, [Buffer.alloc(0)]), /no blobs/],
  ];
  for (const [what, f, re] of cases) t.throws(() => parseAgentMessage(f), re, what);
  for (const [what, f] of cases) t.throws(() => parseAgentMessage(f), ProtocolError, `${what}: a ProtocolError`);
});

t.test('agent messages: the size limit and lying lengths', async (t) => {
  const big = Buffer.alloc(MAX_AGENT_FRAME_BYTES + 1);
  t.throws(() => parseAgentMessage(big), /exceeds the agent limit/);
  t.throws(() => encodeAgentFrame({ type: 'status', taskId: TASK, state: 'x', message: 'y'.repeat(MAX_AGENT_FRAME_BYTES) }), /exceeds the limit/);
  // The largest legitimate status (two texts of MAX_STATUS_TEXT characters, each escaped to 6 bytes) fits.
  const worst: AgentMessage = { type: 'status', taskId: 'x'.repeat(128), state: 'x'.repeat(64), message: '\u0001'.repeat(MAX_STATUS_TEXT), err: '\u0001'.repeat(MAX_STATUS_TEXT), exitCode: -(2 ** 53 - 1) };
  t.same(parseAgentMessage(encodeAgentFrame(worst)), worst, 'the worst-case status fits the limit');
  const ok = encodeAgentFrame({ type: 'heartbeat' });
  const lying = Buffer.from(ok);
  lying.writeUInt32BE(ok.length, 0);
  t.throws(() => parseAgentMessage(lying), /overruns/, 'header length beyond the frame');
  const short = Buffer.from(ok);
  short.writeUInt32BE(ok.length - 10, 0);
  t.throws(() => parseAgentMessage(short), ProtocolError, 'header length cutting the JSON');
  t.throws(() => parseAgentMessage(Buffer.alloc(3)), /too short/);
  t.equal(clipStatusText('x'.repeat(MAX_STATUS_TEXT * 2)).length, MAX_STATUS_TEXT, 'agents clip their texts to what the manager takes');
});

const file = { kind: 'secret', id: OBJ, target: 'pw', uid: 0, gid: 0, mode: 0o400 };
const task = { id: TASK, version: 3, serviceId: 's', serviceName: 'web', slot: 1, desiredState: 'running', command: ['sleep'], args: ['1d'], env: ['A=b'], dir: '/', user: '1000', stopGracePeriodMs: 1000, files: [file] };
const assign = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'assign',
  full: true,
  tasks: [task],
  removeTasks: [],
  objects: [{ kind: 'secret', id: OBJ, version: 2, blob: 0 }],
  removeObjects: [{ kind: 'config', id: OBJ }],
  ...over,
});

t.test('manager messages: the valid ones, with their blobs', async (t) => {
  const secret = Buffer.from([0, 1, 2, 255]);
  const d = parseManagerMessage(frame(assign(), [secret]));
  t.same(d.msg, assign(), 'assign parsed field by field');
  t.same(Buffer.from(d.blobs[0]!), secret);
  t.same(parseManagerMessage(frame({ type: 'welcome', nodeId: 'node1', heartbeatMs: 5000 })).msg, { type: 'welcome', nodeId: 'node1', heartbeatMs: 5000 });
  const managers = [{ addr: '10.0.0.1:2377', nodeId: 'mgr1' }, { addr: '[fd00::2]:2377' }, { addr: 'mgr3.lan:4000' }];
  t.same(parseManagerMessage(frame({ type: 'welcome', nodeId: 'node1', heartbeatMs: 5000, managers })).msg, { type: 'welcome', nodeId: 'node1', heartbeatMs: 5000, managers }, "a welcome with the managers' list");
  t.same(parseManagerMessage(frame({ type: 'heartbeat-ack' })).msg, { type: 'heartbeat-ack' });
  const minimal = { ...task, command: undefined, args: undefined, env: undefined, dir: undefined, user: undefined, stopGracePeriodMs: undefined };
  const m = parseManagerMessage(frame(assign({ tasks: [minimal] }), [secret])).msg as Extract<ManagerMessage, { type: 'assign' }>;
  t.same(Object.keys(m.tasks[0]!).sort(), ['desiredState', 'files', 'id', 'serviceId', 'serviceName', 'slot', 'version'], 'optional fields absent stay absent');
});

t.test("manager messages: a task's container fields (image, hostname, labels)", async (t) => {
  const pinned = 'redis:alpine@sha256:' + 'a'.repeat(64);
  const full = { ...task, image: pinned, hostname: 'web-1', labels: { 'com.docker.stack.namespace': 'st', __proto__x: '', e: '' } };
  const m = parseManagerMessage(frame(assign({ tasks: [full] }), [Buffer.from('s')])).msg as Extract<ManagerMessage, { type: 'assign' }>;
  t.equal(m.tasks[0]!.image, pinned);
  t.equal(m.tasks[0]!.hostname, 'web-1');
  t.same(m.tasks[0]!.labels, full.labels, 'labels kept as given, empty values included');
  const proto = JSON.parse('{"__proto__":"x"}') as Record<string, string>;
  const p = parseManagerMessage(frame(assign({ tasks: [{ ...task, labels: proto }] }), [Buffer.from('s')])).msg as Extract<ManagerMessage, { type: 'assign' }>;
  t.equal(Object.getOwnPropertyDescriptor(p.tasks[0]!.labels, '__proto__')?.value, 'x', 'a "__proto__" label is a plain label');
  const withTask = (over: Record<string, unknown>): Buffer => frame(assign({ tasks: [{ ...task, ...over }] }), [Buffer.from('s')]);
  const cases: [string, Buffer, RegExp][] = [
    ['image a number', withTask({ image: 1 }), /image/],
    ['image empty', withTask({ image: '' }), /image is empty/],
    ['image with a space', withTask({ image: 'a b' }), /image/],
    ['image too long', withTask({ image: 'a'.repeat(MAX_IMAGE_REF + 1) }), /image is not a string of at most/],
    ['hostname too long', withTask({ hostname: 'h'.repeat(MAX_HOSTNAME + 1) }), /hostname/],
    ['hostname with NUL', withTask({ hostname: 'a\u0000' }), /hostname/],
    ['labels a list', withTask({ labels: ['a'] }), /labels: not an object/],
    ['label value a number', withTask({ labels: { a: 1 } }), /labels\["a"\]/],
    ['label key empty', withTask({ labels: { '': 'x' } }), /labels has a key that is empty/],
    ['label value too long', withTask({ labels: { a: 'v'.repeat(MAX_LABEL_VALUE + 1) } }), /labels\["a"\]/],
    ['too many labels', withTask({ labels: Object.fromEntries(Array.from({ length: MAX_LABELS + 1 }, (_, i) => [`k${i}`, ''])) }), /more than/],
  ];
  for (const [what, f, re] of cases) t.throws(() => parseManagerMessage(f), re, what);
});

t.test("manager messages: a task's refreshSignal (the signal:SIGNAME secret-update mode)", async (t) => {
  const withTask = (over: Record<string, unknown>): Buffer => frame(assign({ tasks: [{ ...task, ...over }] }), [Buffer.from('s')]);
  const m = parseManagerMessage(withTask({ refreshSignal: 'SIGHUP' })).msg as Extract<ManagerMessage, { type: 'assign' }>;
  t.equal(m.tasks[0]!.refreshSignal, 'SIGHUP');
  t.throws(() => parseManagerMessage(withTask({ refreshSignal: 'hup' })), /refreshSignal is not a signal name/);
  t.throws(() => parseManagerMessage(withTask({ refreshSignal: 1 })), /refreshSignal/);
  t.throws(() => parseManagerMessage(withTask({ refreshSignal: 'SIG' + 'X'.repeat(20) })), /refreshSignal/);
});

t.test('manager messages: each wrong field is refused, named', async (t) => {
  const blob = [Buffer.from('s')];
  const withTask = (over: Record<string, unknown>): Buffer => frame(assign({ tasks: [{ ...task, ...over }] }), blob);
  const withFile = (over: Record<string, unknown>): Buffer => withTask({ files: [{ ...file, ...over }] });
  const withObj = (over: Record<string, unknown>, blobs = blob): Buffer => frame(assign({ objects: [{ kind: 'secret', id: OBJ, version: 2, blob: 0, ...over }] }), blobs);
  const cases: [string, Buffer, RegExp][] = [
    ['full missing', frame(assign({ full: undefined }), blob), /full/],
    ['full a string', frame(assign({ full: 'true' }), blob), /full/],
    ['tasks an object', frame(assign({ tasks: {} }), blob), /tasks/],
    ['a task a string', frame(assign({ tasks: ['x'] }), blob), /a task: not an object/],
    ['task ID "..", a path', withTask({ id: '..' }), /id is not a valid ID/],
    ['task version negative', withTask({ version: -1 }), /version/],
    ['task slot fractional', withTask({ slot: 1.5 }), /slot/],
    ['task service ID missing', withTask({ serviceId: undefined }), /serviceId/],
    ['task desired state a number', withTask({ desiredState: 1 }), /desiredState/],
    ['task command not strings', withTask({ command: ['a', 1] }), /command/],
    ['task env a string', withTask({ env: 'A=b' }), /env/],
    ['task dir a number', withTask({ dir: 1 }), /dir/],
    ['task stop grace a string', withTask({ stopGracePeriodMs: '1' }), /stopGracePeriodMs/],
    ['task files missing', withTask({ files: undefined }), /files/],
    ['task listed twice', frame(assign({ tasks: [task, task] }), blob), /listed twice/],
    ['file kind unknown', withFile({ kind: 'key' }), /kind/],
    ['file ID a path', withFile({ id: 'a/b' }), /id is not a valid ID/],
    ['file target empty', withFile({ target: '' }), /target/],
    ['file target with NUL', withFile({ target: 'a\u0000b' }), /target/],
    ['file uid negative', withFile({ uid: -1 }), /uid/],
    ['file gid 2^32', withFile({ gid: 2 ** 32 }), /gid/],
    ['file mode beyond 07777', withFile({ mode: 0o17777 }), /mode/],
    ['removeTasks holding a path', frame(assign({ removeTasks: ['../x'] }), blob), /removeTasks/],
    ['object kind unknown', withObj({ kind: 'SECRET' }), /kind/],
    ['object version a string', withObj({ version: '2' }), /version/],
    ['object blob index beyond the blobs', withObj({ blob: 1 }), /blob 1 does not exist/],
    ['object blob index negative', withObj({ blob: -1 }), /blob/],
    ['blob missing', withObj({}, []), /blob 0 does not exist/],
    ['extra blob nobody names', withObj({}, [Buffer.from('a'), Buffer.from('b')]), /1 of 2 blobs belong to no object/],
    ['two objects, one blob', frame(assign({ objects: [{ kind: 'secret', id: OBJ, version: 1, blob: 0 }, { kind: 'config', id: OBJ, version: 1, blob: 0 }] }), blob), /used twice/],
    ['removeObjects junk', frame(assign({ removeObjects: [null] }), blob), /removeObjects/],
    ['welcome without a node ID', frame({ type: 'welcome', heartbeatMs: 5 }), /nodeId/],
    ['welcome heartbeat a string', frame({ type: 'welcome', nodeId: 'n', heartbeatMs: '5' }), /heartbeatMs/],
    ['blobs on a welcome', frame({ type: 'welcome', nodeId: 'n', heartbeatMs: 5 }, blob), /no blobs/],
    ['welcome managers not a list', frame({ type: 'welcome', nodeId: 'n', heartbeatMs: 5, managers: 'a:1' }), /managers is not a list/],
    ['welcome managers too many', frame({ type: 'welcome', nodeId: 'n', heartbeatMs: 5, managers: Array.from({ length: 65 }, () => ({ addr: 'a:1' })) }), /managers is not a list of at most 64/],
    ['welcome manager without a port', frame({ type: 'welcome', nodeId: 'n', heartbeatMs: 5, managers: [{ addr: 'host' }] }), /is not HOST:PORT/],
    ['welcome manager address with a path', frame({ type: 'welcome', nodeId: 'n', heartbeatMs: 5, managers: [{ addr: 'a/../b:1' }] }), /is not HOST:PORT/],
    ['welcome manager node ID bad', frame({ type: 'welcome', nodeId: 'n', heartbeatMs: 5, managers: [{ addr: 'a:1', nodeId: '../x' }] }), /nodeId is not a valid ID/],
    ['unknown type', frame({ type: 'status' }), /unknown message type "status"/],
    ['huge counts', frame(assign({ removeTasks: Array.from({ length: 100_001 }, () => TASK) }), blob), /removeTasks is not a list/],
  ];
  for (const [what, f, re] of cases) t.throws(() => parseManagerMessage(f), re, what);
  for (const [what, f] of cases) t.throws(() => parseManagerMessage(f), ProtocolError, `${what}: a ProtocolError`);
});

t.test('manager messages: lengths that lie', async (t) => {
  const ok = frame(assign(), [Buffer.from('abc')]);
  const hl = ok.readUInt32BE(0);
  const json = ok.subarray(4, 4 + hl).toString();
  for (const lie of ['[4]', '[2]', '[-1]', '["3"]', '[3,0]', '[]']) {
    const h = Buffer.from(json.replace('"blobs":[3]', `"blobs":${lie}`));
    const f = Buffer.concat([Buffer.alloc(4), h, Buffer.from('abc')]);
    f.writeUInt32BE(h.length, 0);
    t.throws(() => parseManagerMessage(f), ProtocolError, `blob lengths ${lie} for 3 bytes`);
  }
  t.throws(() => parseManagerMessage(ok.subarray(0, ok.length - 1)), /overruns/);
  t.throws(() => parseManagerMessage(Buffer.concat([ok, Buffer.from('z')])), /trailing/);
});

t.test('a task\'s registryAuth: typed, bounded, errors never quote the values', async (t) => {
  const blob = [Buffer.from('s')];
  const parse = (registryAuth: unknown): Extract<ManagerMessage, { type: 'assign' }> =>
    parseManagerMessage(frame(assign({ tasks: [{ ...task, registryAuth }] }), blob)).msg as Extract<ManagerMessage, { type: 'assign' }>;
  t.same(parse({ username: 'u', password: 'p' }).tasks[0]!.registryAuth, { username: 'u', password: 'p' });
  t.same(parse({ identitytoken: 'tok', serveraddress: 'dropped', email: 'dropped' }).tasks[0]!.registryAuth, { identitytoken: 'tok' }, 'only the fields a pull uses');
  t.notOk('registryAuth' in parse({}).tasks[0]!, 'an empty one is absent');
  t.notOk('registryAuth' in parse({ username: '' }).tasks[0]!, 'empty strings count as absent');
  t.notOk('registryAuth' in parse(undefined).tasks[0]!, 'absent stays absent');
  t.same(parse({ password: 'x'.repeat(MAX_REGISTRY_AUTH_FIELD) }).tasks[0]!.registryAuth, { password: 'x'.repeat(MAX_REGISTRY_AUTH_FIELD) }, 'at the limit');
  const secret = 'hunter2-do-not-echo';
  const cases: [string, unknown, RegExp][] = [
    ['a string', secret, /registryAuth: not an object/],
    ['a list', [secret], /registryAuth: not an object/],
    ['null', null, /registryAuth: not an object/],
    ['password a number', { password: 42 }, /registryAuth: password is not a string/],
    ['username an object', { username: { secret } }, /registryAuth: username is not a string/],
    ['identitytoken over the limit', { identitytoken: secret + 'x'.repeat(MAX_REGISTRY_AUTH_FIELD) }, /identitytoken is not a string of at most 16384/],
  ];
  for (const [what, v, re] of cases) {
    const err = (() => {
      try {
        parse(v);
      } catch (e) {
        return e;
      }
      return null;
    })();
    t.type(err, ProtocolError, `${what}: a ProtocolError`);
    t.match((err as Error).message, re, `${what}: named`);
    t.notOk((err as Error).message.includes(secret), `${what}: the value is not in the error`);
  }
});

t.test('node certificate messages: typed both ways, each wrong field refused, named', async (t) => {
  const fp = 'a'.repeat(64);
  t.same(parseAgentMessage(frame({ type: 'cert-request', csr: 'PEM', nodeId: 'other', role: 'manager' })), { type: 'cert-request', csr: 'PEM' }, 'only the CSR is kept: no identity travels in the message');
  t.same(parseAgentMessage(frame({ type: 'tls-state', cert: 'PEM', trust: [fp, fp] })), { type: 'tls-state', cert: 'PEM', trust: [fp, fp] });
  const agentBad: [string, Buffer, RegExp][] = [
    ['csr missing', frame({ type: 'cert-request' }), /csr/],
    ['csr too long', frame({ type: 'cert-request', csr: 'x'.repeat(16 * 1024 + 1) }), /csr/],
    ['trust not fingerprints', frame({ type: 'tls-state', cert: 'PEM', trust: ['../x'] }), /trust/],
    ['trust too many', frame({ type: 'tls-state', cert: 'PEM', trust: Array(17).fill(fp) }), /trust/],
    ['cert a number', frame({ type: 'tls-state', cert: 1, trust: [] }), /cert/],
  ];
  for (const [what, f, re] of agentBad) t.throws(() => parseAgentMessage(f), re, what);
  t.same(parseManagerMessage(frame({ type: 'node-cert', cert: 'C', trust: 'T' })).msg, { type: 'node-cert', cert: 'C', trust: 'T' });
  t.same(parseManagerMessage(frame({ type: 'node-cert-refused', reason: 'no' })).msg, { type: 'node-cert-refused', reason: 'no' });
  t.same(parseManagerMessage(frame({ type: 'cert-renew', x: 1 })).msg, { type: 'cert-renew' });
  t.same(parseManagerMessage(frame({ type: 'trust', trust: 'T' })).msg, { type: 'trust', trust: 'T' });
  t.throws(() => parseManagerMessage(frame({ type: 'node-cert', cert: 'C' })), /trust/, 'node-cert without trust');
  t.throws(() => parseManagerMessage(frame({ type: 'trust' })), /trust/, 'trust without roots');
  t.throws(() => parseManagerMessage(frame({ type: 'cert-renew' }, [Buffer.from('x')])), /no blobs/, 'blobs on a cert message');
});
