// Bad input on the agent channel, fuzzed, in both directions (seeded; RS_SEED=<n> replays):
//  a. towards a real manager: node A's certificate opens a session and sends random and mutated frames (random
//     bytes, truncated, wrong types, huge header lengths, oversize (agent frames are limited to 64 KiB), text
//     frames, status for unknown tasks and for node B's, replays, states out of order). The manager stays up, changes no task that is not A's, never moves
//     a state backwards, logs its refusals without secret bytes, and node B's session is untouched.
//  b. towards a real agent process (`agent run --manager`, real FUSE mount): a fake manager (its own CA) sends
//     fuzzed assignments (bad blob indexes, unknown kinds, traversal targets and IDs, duplicates, huge counts,
//     removals of unknown tasks, replays). The agent stays up and its mount only ever shows task folders that a
//     valid assignment made, each holding only that assignment's files.
import t from 'tap';
import https from 'node:https';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { WebSocket, WebSocketServer } from 'ws';
import { startManager, request, waitFor as pollFor } from '../helpers/manager.js';
import { fuseSkip, runsecretsArgv } from '../helpers/env.js';
import { collectJsonLines } from '../helpers/wait.js';
import { BIN, forceUnmount } from '../helpers/agent.js';
import { Rng, fuzzSeed, junkString, junkValue } from '../helpers/fuzz.js';
import { createLogger } from '../../shared/log.js';
import { encodeFrame, decodeFrame, type TaskAssignment, type ManagerMessage } from '../../shared/protocol.js';
import { joinCluster, managerCertCheck } from '../../agent/session/join.js';
import { ManagerSession } from '../../agent/session/session.js';
import { ClusterCA, issueWithNewKey } from '../../manager/pki/ca.js';

const FRAMES = Number(process.env.RS_FUZZ_FRAMES ?? 10_000);
const seed = fuzzSeed();
t.comment(`seed frame-fuzz: ${seed} (replay: RS_SEED=${seed})`);
let rng = new Rng(seed); // each part starts its own stream from the seed, so either replays alone
const STATES = ['new', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running', 'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned'];
const rank = (s: string): number => STATES.indexOf(s);
const randomId = (): string => Array.from({ length: 25 }, () => '0123456789abcdefghijklmnopqrstuvwxyz'[rng.int(36)]).join('');
/** Frames with arbitrary header JSON (encodeFrame types only real messages). */
const frameOf = (header: unknown, blobs: Buffer[] = []): Buffer => encodeFrame(header as ManagerMessage, blobs);

if (process.getuid?.() !== 0) {
  t.comment('SKIP: needs root (the manager keeps root-only files and socket; the agent mounts FUSE)');
  t.test('the whole file', { skip: 'needs root' }, () => undefined);
} else {
  t.test('a. fuzzed frames towards the manager', { skip: process.env.RS_FUZZ_ONLY === 'b' ? 'RS_FUZZ_ONLY=b' : false }, async (t) => {
    const m = await startManager({ t });
    const log = createLogger('fuzz-agent', 'silent');
    const dir = mkdtempSync(join(tmpdir(), 'rs-ffuzz-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const manager = { host: '127.0.0.1', port: m.tcpPort };
    const idA = await joinCluster({ manager, token: m.workerToken, stateDir: join(dir, 'a'), hostname: 'fz-a', labels: {}, log });
    const idB = await joinCluster({ manager, token: m.workerToken, stateDir: join(dir, 'b'), hostname: 'fz-b', labels: {}, log });
    const MARKER = `S3CRET-MARKER-${seed}`;
    const sec = (await request(m.socket, 'POST', '/secrets/create', { Name: 'fz-secret', Data: Buffer.from(MARKER).toString('base64') })).json as { ID: string };
    const svc = (name: string, host: string, replicas: number): Record<string, unknown> => ({
      Name: name,
      TaskTemplate: {
        ContainerSpec: { Image: 'none', Command: ['sleep', '1d'], Secrets: [{ SecretID: sec.ID, SecretName: 'fz-secret', File: { Name: 'pw', UID: '0', GID: '0', Mode: 0o400 } }] },
        Placement: { Constraints: [`node.hostname==${host}`] },
        RestartPolicy: { Condition: 'none' },
      },
      Mode: { Replicated: { Replicas: replicas } },
    });
    await request(m.socket, 'POST', '/services/create', svc('svc-a', 'fz-a', 3));
    await request(m.socket, 'POST', '/services/create', svc('svc-b', 'fz-b', 2));

    // Node B: the real session code, heartbeating; it must stay connected throughout.
    let bConnects = 0;
    const sessB = new ManagerSession({ manager, identity: idB, log, onAssign: async () => undefined, onConnected: () => void bConnects++ });
    sessB.start();
    t.teardown(() => sessB.stop());
    type Task = { ID: string; NodeID: string; Version: { Index: number }; Status: { State: string } };
    const tasks = async (): Promise<Task[]> => (await request(m.socket, 'GET', '/tasks')).json as Task[];
    await pollFor(async () => (await tasks()).filter((x) => x.NodeID === idA.nodeId || x.NodeID === idB.nodeId).length === 5, 'five tasks assigned', 30_000);
    await pollFor(() => sessB.isConnected, 'node B connected');
    const bBefore = JSON.stringify((await tasks()).filter((x) => x.NodeID === idB.nodeId));
    const aTasks = (await tasks()).filter((x) => x.NodeID === idA.nodeId).map((x) => x.ID);
    const bTasks = (await tasks()).filter((x) => x.NodeID === idB.nodeId).map((x) => x.ID);

    // Node A: a raw WebSocket with A's certificate, so that any bytes can be sent.
    let ws: WebSocket | null = null;
    let reconnects = 0;
    const closeCodes = new Map<number, number>();
    const connectA = async (): Promise<WebSocket> => {
      const w = new WebSocket(`wss://127.0.0.1:${m.tcpPort}/runsecrets/session`, {
        cert: idA.certPem,
        key: idA.keyPem,
        ca: [idA.caPem],
        checkServerIdentity: managerCertCheck(undefined) as never,
        perMessageDeflate: false,
      });
      w.on('close', (code) => closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1));
      w.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        w.once('open', () => resolve());
        w.once('error', reject);
      });
      return w;
    };
    t.teardown(() => ws?.terminate());

    const sentStatus: Buffer[] = [];
    const counts = new Map<string, number>();
    const maxRank = new Map<string, number>();
    let backwards = 0;
    let foreignChanges = 0;
    const checkTasks = async (): Promise<void> => {
      const now = await tasks();
      if (JSON.stringify(now.filter((x) => x.NodeID === idB.nodeId)) !== bBefore) foreignChanges++;
      for (const x of now) {
        const r = rank(x.Status.State);
        if (r < (maxRank.get(x.ID) ?? -1)) backwards++;
        maxRank.set(x.ID, Math.max(r, maxRank.get(x.ID) ?? -1));
      }
    };
    await checkTasks();

    const gen = (): { kind: string; data: Buffer | string; closes: boolean } => {
      const k = rng.int(16);
      const status = (taskId: unknown, state: unknown, extra: Record<string, unknown> = {}): Buffer => frameOf({ type: 'status', taskId, state, ...extra });
      switch (k) {
        case 0:
          return { kind: 'random bytes', data: rng.bytes(rng.int(80)), closes: true };
        case 1: {
          const f = status(rng.pick(aTasks), 'running');
          return { kind: 'truncated', data: f.subarray(0, rng.int(f.length)), closes: true };
        }
        case 2: {
          const f = Buffer.from(frameOf({ type: 'heartbeat' }));
          f.writeUInt32BE(rng.pick([0xffffffff, 0x7fffffff, f.length, 0]), 0);
          return { kind: 'huge header length', data: f, closes: true };
        }
        case 3:
          return { kind: 'wrong type field', data: frameOf({ type: rng.pick([1, null, [], {}, 'status ', 'HEARTBEAT', 'assign', 'welcome', junkString(rng).slice(0, 5000)]) }), closes: true };
        case 4:
          return { kind: 'status: unknown task', data: status(rng.chance(0.5) ? randomId() : junkString(rng).slice(0, 3000), rng.pick(STATES)), closes: false };
        case 5:
          return { kind: "status: node B's task", data: status(rng.pick(bTasks), rng.pick(STATES), { message: 'forged', err: 'forged' }), closes: false };
        case 6:
        case 7: {
          const f = status(rng.pick(aTasks), rng.chance(0.8) ? rng.pick(STATES) : junkValue(rng), {
            message: rng.chance(0.7) ? `m${rng.int(5)}` : junkValue(rng),
            ...(rng.chance(0.3) ? { err: rng.chance(0.5) ? 'e' : junkValue(rng) } : {}),
            ...(rng.chance(0.3) ? { exitCode: rng.pick([0, 1, -1, 1.5, 2 ** 60, '3', null]) } : {}),
          });
          sentStatus.push(f);
          return { kind: 'status: own task, any state/order', data: f, closes: false };
        }
        case 8:
          return sentStatus.length > 0 ? { kind: 'replayed status', data: rng.pick(sentStatus), closes: false } : { kind: 'heartbeat', data: frameOf({ type: 'heartbeat' }), closes: false };
        case 9:
          return { kind: 'heartbeat', data: frameOf({ type: 'heartbeat' }), closes: false };
        case 10:
          return { kind: 'text frame', data: rng.chance(0.5) ? '{"type":"heartbeat"}' : junkString(rng).slice(0, 1000), closes: true };
        case 11: {
          // Blobs in an agent frame (none are expected), some holding the secret's bytes: never to be logged.
          const blobs = [Buffer.from(MARKER), rng.bytes(rng.int(100))];
          return { kind: 'frame with blobs', data: frameOf({ type: rng.pick(['status', 'heartbeat', 'blobby']), taskId: rng.pick(aTasks), state: 'running' }, blobs), closes: true };
        }
        case 12: {
          const f = Buffer.from(frameOf({ type: 'heartbeat' }, [Buffer.from('abc')]));
          const hl = f.readUInt32BE(0);
          const json = f.subarray(4, 4 + hl).toString().replace('[3]', rng.pick(['[-1]', '[1e300]', '["x"]', '[3,3]', '{}', '[2]']));
          const h = Buffer.from(json);
          const out = Buffer.alloc(4 + h.length + 3);
          out.writeUInt32BE(h.length, 0);
          h.copy(out, 4);
          out.write('abc', 4 + h.length);
          return { kind: 'bad blob lengths', data: out, closes: true };
        }
        case 13:
          return { kind: 'header not JSON / not an object', data: (() => { const h = Buffer.from(rng.pick(['[1,2]', '"s"', 'null', '{', MARKER, '{"type":"status"'])); const b = Buffer.alloc(4 + h.length); b.writeUInt32BE(h.length, 0); h.copy(b, 4); return b; })(), closes: true };
        case 14:
          return rng.chance(0.05)
            ? { kind: 'oversize (16 MiB junk)', data: Buffer.alloc(16 << 20, 0x41), closes: true }
            : { kind: 'status: deep/huge fields', data: status(rng.pick(aTasks), 'running', { message: 'x'.repeat(rng.pick([5000, 1 << 20])) }), closes: true };
        default:
          return { kind: 'status before anything else / trailing bytes', data: Buffer.concat([status(rng.pick(aTasks), 'starting'), Buffer.from([0])]), closes: true };
      }
    };

    const started = Date.now();
    let sent = 0;
    let oversizeRaw = 0;
    for (let i = 0; i < FRAMES; i++) {
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        if (ws) reconnects++;
        ws = await connectA();
      }
      const f = gen();
      counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
      const w = ws;
      await new Promise<void>((resolve) => w.send(f.data, { binary: typeof f.data !== 'string' }, () => resolve()));
      sent++;
      if (f.closes) {
        // A frame the manager must refuse by closing: wait for the close (or see the session carry on).
        await Promise.race([new Promise((r) => w.once('close', r)), new Promise((r) => setTimeout(r, 1500))]);
      }
      if (i % 1000 === 999) {
        // A WebSocket frame header claiming 2^40 bytes: refused from the header, nothing buffered.
        const raw = (ws as unknown as { _socket: import('node:net').Socket })._socket;
        const hdr = Buffer.from([0x82, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
        raw.write(hdr);
        oversizeRaw++;
        await Promise.race([new Promise((r) => ws!.once('close', r)), new Promise((r) => setTimeout(r, 3000))]);
      }
      if (i % 250 === 249) {
        await checkTasks();
        const ping = await request(m.socket, 'GET', '/_ping');
        if (ping.status !== 200) t.fail(`manager not answering after frame ${i}`);
      }
    }
    const elapsed = Date.now() - started;
    // Let the last frames land, then the final look.
    await new Promise((r) => setTimeout(r, 500));
    await checkTasks();
    t.ok(m.pid() !== null && (await request(m.socket, 'GET', '/_ping')).status === 200, 'manager up and answering');
    t.equal(foreignChanges, 0, "node B's tasks never changed");
    t.equal(backwards, 0, 'no task state ever moved backwards');
    t.equal(bConnects, 1, "node B's session stayed open the whole time (one connection)");
    t.ok(sessB.isConnected, 'node B still connected');
    const logs = m.logs();
    t.notOk(logs.includes(MARKER), 'no secret bytes in the manager log', { found: logs.split('\n').filter((l) => l.includes(MARKER)).slice(0, 3) });
    t.notOk(logs.includes(Buffer.from(MARKER).toString('base64')), 'nor their base64');
    const lines = logs.split('\n');
    const count = (re: RegExp): number => lines.filter((l) => re.test(l)).length;
    const refusals = {
      badFrame: count(/bad frame from agent/),
      invalidStatus: count(/invalid task status from agent/),
      notOwn: count(/not this node's: ignored/),
      // Unknown types, wrong field types and oversize texts are protocol errors now (parseAgentMessage): the
      // session is closed and the refusal logged as a bad frame.
      protocolErrors: lines.filter((l) => l.includes('bad frame from agent') && /unknown message type|is not|no blobs/.test(l)).length,
    };
    t.ok(refusals.badFrame > 0 && refusals.invalidStatus > 0 && refusals.notOwn > 0 && refusals.protocolErrors > 0, 'refusals are logged');
    t.notOk(/"level":(50|60)/.test(logs.split('\n').filter((l) => /dispatcher|session/.test(l)).join('\n')), 'no error-level log from the dispatcher');
    for (const [k, n] of [...counts].sort()) t.comment(`figure frame-fuzz.to-manager.kind: ${k}: ${n}`);
    t.comment(
      `figure frame-fuzz.to-manager: ${sent.toLocaleString('en')} frames (+${oversizeRaw} raw 2^40-byte frame headers) from node A in ${(elapsed / 1000).toFixed(1)} s, ${reconnects} reconnects after the manager closed; close codes ${[...closeCodes].map(([c, n]) => `${c}:${n}`).join(' ')}; node B changes 0/${foreignChanges}, backward moves ${backwards}, B reconnects ${bConnects - 1}; logged refusals: ${JSON.stringify(refusals)}`,
    );
  });

  t.test('b. fuzzed frames towards a real agent process', { ...fuseSkip() }, async (t) => {
    rng = new Rng((seed + 1) >>> 0);
    // A fake manager: its own CA, a manager certificate, and the agent's node identity written as a join would.
    const { ca } = await ClusterCA.create('fuzz-cluster');
    const server = await issueWithNewKey(ca, { role: 'manager', nodeId: 'fuzz-manager', ipAddresses: ['127.0.0.1'] });
    const nodeId = 'fuzznode0000000000000000a';
    const node = await issueWithNewKey(ca, { role: 'worker', nodeId });
    const dir = mkdtempSync(join(tmpdir(), 'rs-ffuzz-agent-'));
    chmodSync(dir, 0o755);
    const stateDir = join(dir, 'state');
    const mount = join(dir, 'mnt');
    const canary = join(dir, 'canary');
    mkdirSync(stateDir, { mode: 0o700 });
    mkdirSync(mount);
    mkdirSync(canary);
    writeFileSync(join(stateDir, 'node.key'), node.keyPem, { mode: 0o600 });
    writeFileSync(join(stateDir, 'ca.crt'), ca.certPem, { mode: 0o600 });
    writeFileSync(join(stateDir, 'node.crt'), node.certPem, { mode: 0o600 });
    writeFileSync(join(stateDir, 'manager.id'), 'fuzz-manager\n', { mode: 0o600 }); // pinned at join (join.ts)

    const https_ = https.createServer({ cert: server.certPem, key: server.keyPem, ca: [ca.certPem], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' });
    const wss = new WebSocketServer({ noServer: true, maxPayload: 64 << 20 });
    let conn: WebSocket | null = null;
    let connections = 0;
    const statuses: unknown[] = [];
    https_.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (w) => {
      connections++;
      conn = w;
      w.on('message', (d: Buffer) => {
        try {
          const msg = decodeFrame<{ type: string }>(d).msg;
          if (msg.type === 'heartbeat') w.send(frameOf({ type: 'heartbeat-ack' }));
          else statuses.push(msg);
        } catch {
          /* the agent sends only valid frames */
        }
      });
      w.send(frameOf({ type: 'welcome', nodeId, heartbeatMs: 1000 }));
    }));
    await new Promise<void>((r) => https_.listen(0, '127.0.0.1', () => r()));
    const port = (https_.address() as import('node:net').AddressInfo).port;

    const lines: Record<string, unknown>[] = [];
    let proc: ChildProcess | null = null;
    t.teardown(async () => {
      if (proc && proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => { proc!.once('exit', r); setTimeout(r, 10_000); });
      }
      forceUnmount(mount);
      for (const c of wss.clients) c.terminate();
      https_.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const [cmd, argv] = runsecretsArgv(BIN, ['agent', 'run', '--manager', `127.0.0.1:${port}`, '--mount', mount, '--state-dir', stateDir, '--hostname', 'fz-agent', '--log-level', 'debug']);
    proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    collectJsonLines(proc.stderr!, lines);
    let exited: number | null | string = null;
    proc.once('exit', (code, sig) => (exited = code ?? sig));
    await pollFor(() => lines.some((l) => l.msg === 'connected to the manager'), 'the agent connected to the fake manager', 30_000);

    // The model: what valid assignments put on the mount (folder -> file targets).
    const MARKER = Buffer.from(`AGENT-SECRET-${seed}`);
    const expected = new Map<string, Set<string>>();
    const everValidIds = new Set<string>();
    const maybeIds = new Set<string>();
    const kinds = new Map<string, number>();
    const validTask = (id: string, files: { kind: 'secret' | 'config'; id: string; target: string }[]): TaskAssignment => ({
      id,
      version: 1 + rng.int(100),
      serviceId: 'svc',
      serviceName: 'svc',
      slot: 1,
      desiredState: rng.pick(['ready', 'accepted', 'shutdown']), // never 'running': the fuzzer starts no processes
      files: files.map((f) => ({ ...f, uid: rng.pick([0, 1000]), gid: 0, mode: rng.pick([0o400, 0o444, 0o600]) })),
    });
    const sentAssigns: Buffer[] = [];
    const objIds = ['objaaaaaaaaaaaaaaaaaaaaa1', 'objaaaaaaaaaaaaaaaaaaaaa2', 'objaaaaaaaaaaaaaaaaaaaaa3'];

    const gen = (): { kind: string; frame: Buffer; valid: null | { full: boolean; tasks: TaskAssignment[]; removeTasks: string[] } } => {
      const k = rng.int(14);
      const oneObj = (): { kind: 'secret'; id: string; version: number; blob: number } => ({ kind: 'secret', id: rng.pick(objIds), version: 1, blob: 0 });
      if (k <= 3) {
        // A valid assignment: new tasks with files of objects it carries, or removals.
        const ids = Array.from({ length: 1 + rng.int(3) }, () => randomId());
        const objs = objIds.map((id, i) => ({ kind: 'secret' as const, id, version: 1, blob: i }));
        const tasks = ids.map((id) => validTask(id, [{ kind: 'secret', id: rng.pick(objIds), target: rng.pick(['pw', 'dir/pw', 'a/b/c', '/etc/abs-target']) }]));
        const removeTasks = rng.chance(0.5) && expected.size > 0 ? [rng.pick([...expected.keys()])] : [];
        const full = rng.chance(0.1);
        const msg = { type: 'assign', full, tasks, removeTasks, objects: objs, removeObjects: [] };
        return { kind: 'valid assign', frame: frameOf(msg, objIds.map(() => MARKER)), valid: { full, tasks, removeTasks } };
      }
      const base = (): Record<string, unknown> => {
        const id = randomId();
        maybeIds.add(id);
        return { type: 'assign', full: false, tasks: [validTask(id, [{ kind: 'secret', id: objIds[0]!, target: 'pw' }])], removeTasks: [], objects: [oneObj()], removeObjects: [] };
      };
      const bad = (kind: string, mutate: (m: Record<string, unknown>) => void, blobs: Buffer[] = [MARKER]): { kind: string; frame: Buffer; valid: null } => {
        const msg = base();
        mutate(msg);
        // A mutation may leave the frame valid with another ID (e.g. junk that happens to be a well-formed ID):
        // every task ID the frame carries may then show up, as long as it has a well-formed shape.
        if (Array.isArray(msg.tasks)) for (const x of msg.tasks as unknown[]) {
          const id = (x as { id?: unknown } | null)?.id;
          if (typeof id === 'string') maybeIds.add(id);
        }
        return { kind, frame: frameOf(msg, blobs), valid: null };
      };
      const task0 = (m: Record<string, unknown>): Record<string, unknown> => (m.tasks as Record<string, unknown>[])[0]!;
      switch (k) {
        case 4:
          return bad('bad blob index', (m) => ((m.objects as Record<string, unknown>[])[0]!.blob = rng.pick([1, 5, -1, 1.5, '0', null, 2 ** 53])));
        case 5:
          return bad('unknown kind', (m) => {
            if (rng.chance(0.5)) (m.objects as Record<string, unknown>[])[0]!.kind = rng.pick(['key', 'SECRET', 1, null]);
            else (task0(m).files as Record<string, unknown>[])[0]!.kind = rng.pick(['key', '', 7]);
          });
        case 6:
          return bad('path traversal / junk IDs and targets', (m) => {
            const what = rng.int(3);
            if (what === 0) task0(m).id = rng.pick(['..', '.', '../escape', 'a/b', '', '/abs', 'x\u0000y', 'é', 'x'.repeat(300), junkString(rng).slice(0, 200)]);
            else if (what === 1) (task0(m).files as Record<string, unknown>[])[0]!.target = rng.pick(['', '\u0000', 'a\u0000b', 'x'.repeat(5000)]);
            else (m.objects as Record<string, unknown>[])[0]!.id = rng.pick(['..', '../x', '', 'a/b']);
          });
        case 7:
          return bad('duplicate task IDs', (m) => (m.tasks = [task0(m), task0(m)]));
        case 8:
          return bad('huge counts', (m) => {
            if (rng.chance(0.5)) m.removeTasks = Array.from({ length: 200_000 }, () => 'x');
            else m.tasks = Array.from({ length: 100_001 }, () => ({}));
          });
        case 9:
          return { kind: 'removal of unknown tasks', frame: frameOf({ type: 'assign', full: false, tasks: [], removeTasks: [randomId(), randomId()], objects: [], removeObjects: [{ kind: 'secret', id: randomId() }] }), valid: { full: false, tasks: [], removeTasks: [] } };
        case 10:
          return bad('wrong field types', (m) => {
            const key = rng.pick(['full', 'tasks', 'removeTasks', 'objects', 'removeObjects']);
            m[key] = junkValue(rng);
            if (rng.chance(0.5) && Array.isArray(m.tasks) && m.tasks.length > 0) {
              const t0 = task0(m);
              const f = rng.pick(['uid', 'gid', 'mode', 'version', 'files', 'command', 'desiredState', 'stopGracePeriodMs']);
              if (typeof t0 === 'object') (t0 as Record<string, unknown>)[f] = rng.pick([-1, 2 ** 40, 0o177777, 'x', null, [], {}, 1.5]);
            }
          });
        case 11:
          return { kind: 'unknown message type', frame: frameOf({ type: rng.pick(['hello', 'ASSIGN', 'status', 'heartbeat', junkString(rng).slice(0, 200)]) }), valid: null };
        case 12:
          return sentAssigns.length > 0
            ? { kind: 'replayed old assign (out of order)', frame: Buffer.from(rng.pick(sentAssigns)), valid: null }
            : { kind: 'unknown message type', frame: frameOf({ type: 'nope' }), valid: null };
        default:
          return rng.chance(0.3)
            ? { kind: 'random bytes / truncated', frame: rng.bytes(rng.int(60)), valid: null }
            : { kind: 'welcome with junk', frame: frameOf({ type: 'welcome', nodeId: junkValue(rng), heartbeatMs: rng.pick([0, -5, 1e12, 'x', 3]) }), valid: null };
      }
    };

    // The mount is only ever read with asynchronous calls: a synchronous one would block this process's event loop
    // while the kernel waits for the agent, and an agent blocked writing a log line to our full stderr pipe (which
    // only this event loop drains) could then never answer it: a deadlock of the harness, not of the agent.
    /** The mount must show exactly the model: task folders from valid assignments, with only their files. */
    const walk = async (p: string, rel = ''): Promise<string[]> => {
      const out: string[] = [];
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(p, { withFileTypes: true });
      } catch {
        return out; // a folder removed while we looked: fine
      }
      for (const e of entries) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) out.push(...(await walk(join(p, e.name), r)));
        else out.push(r);
      }
      return out;
    };
    let strays = 0;
    const strayExamples: string[] = [];
    const checkMount = async (): Promise<void> => {
      for (const e of await readdir(mount, { withFileTypes: true })) {
        // A mutated frame may have stayed valid: a folder named by a well-formed ID that some frame carried is fine;
        // any other name (never sent, or not an ID: '..', a path, junk) is not.
        // A task's files folder (absolute targets) is named ID + ".files" (agent/worker/placement.ts).
        const files = e.name.endsWith('.files');
        const id = files ? e.name.slice(0, -'.files'.length) : e.name;
        if (!e.isDirectory() || !(everValidIds.has(id) || (maybeIds.has(id) && /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(id)))) {
          strays++;
          if (strayExamples.length < 5) strayExamples.push(`top-level ${JSON.stringify(e.name)}`);
          continue;
        }
        for (const f of await walk(join(mount, e.name))) {
          if (!(files ? /^abs\/etc\/abs-target$/ : /^(pw|dir\/pw|a\/b\/c)$/).test(f)) {
            strays++;
            if (strayExamples.length < 5) strayExamples.push(`${e.name}/${f}`);
          }
        }
      }
      if ((await readdir(canary)).length > 0) strays++;
    };

    const AGENT_FRAMES = Number(process.env.RS_FUZZ_AGENT_FRAMES ?? 10_000);
    const started = Date.now();
    let sent = 0;
    let checkpoints = 0;
    for (let i = 0; i < AGENT_FRAMES; i++) {
      if (Date.now() - started > 300_000) {
        t.fail(`only ${i} of ${AGENT_FRAMES} frames handled in 300 s (stalled: see the checkpoints)`);
        break;
      }
      if (exited !== null) {
        t.fail(`the agent process exited (${String(exited)}) by frame ${i}; raw stderr: ${lines.filter((l) => l.raw).map((l) => String(l.msg)).join(' | ').slice(0, 2000)}`);
        break;
      }
      await pollFor(() => conn && conn.readyState === WebSocket.OPEN, 'the agent (re)connected', 30_000);
      const g = gen();
      kinds.set(g.kind, (kinds.get(g.kind) ?? 0) + 1);
      if (g.valid) {
        if (g.valid.full) expected.clear();
        for (const id of g.valid.removeTasks) expected.delete(id);
        for (const a of g.valid.tasks) {
          expected.set(a.id, new Set(a.files.map((f) => f.target)));
          everValidIds.add(a.id);
        }
        if (g.frame.length < 100_000 && sentAssigns.length < 200) sentAssigns.push(Buffer.from(g.frame));
      }
      const w = conn!;
      // A send that never completes means the agent stopped reading its socket: a stall, reported as such.
      const wrote = await Promise.race([
        new Promise<boolean>((resolve) => w.send(g.frame, { binary: true }, () => resolve(true))),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 15_000)),
      ]);
      if (!wrote) {
        t.fail(`the agent stopped reading its session at frame ${i} (a send did not complete in 15 s)`);
        break;
      }
      sent++;

      if (i % 500 === 499 || i === AGENT_FRAMES - 1) {
        // Checkpoint: a marker task; once its folder shows, every earlier frame has been handled.
        const id = randomId();
        everValidIds.add(id);
        expected.set(id, new Set(['pw']));
        const cp = validTask(id, [{ kind: 'secret', id: objIds[0]!, target: 'pw' }]);
        cp.desiredState = 'ready';
        const cpFrame = frameOf({ type: 'assign', full: false, tasks: [cp], removeTasks: [], objects: [{ kind: 'secret', id: objIds[0]!, version: 1, blob: 0 }], removeObjects: [] }, [MARKER]);
        // Sent again on each new connection: a frame sent while the agent was dropping a session is lost.
        let sentOn: WebSocket | null = null;
        try {
          await pollFor(() => {
            if (conn && conn.readyState === WebSocket.OPEN && conn !== sentOn) {
              sentOn = conn;
              conn.send(cpFrame);
            }
            return stat(join(mount, id)).then((st) => st.isDirectory(), () => false);
          }, 'the checkpoint folder', 30_000);
        } catch (err) {
          t.comment(`agent log tail: ${lines.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`);
          const { execSync } = await import('node:child_process');
          const sh = (c: string): string => { try { return execSync(c, { timeout: 8000 }).toString(); } catch (e) { return `(${(e as Error).message.slice(0, 200)})`; } };
          t.comment(`agent exit: ${String(exited)}; raw stderr: ${lines.filter((l) => l.raw).map((l) => String(l.msg)).join(' | ').slice(0, 3000)}`);
          t.comment(`diag: conn=${(conn as WebSocket | null)?.readyState} ls=${sh(`timeout 5 ls ${mount} 2>&1 | head -3`)} wchan=${sh(`for f in /proc/${proc!.pid}/task/*; do cat $f/wchan; echo; done | sort | uniq -c`)}`);
          t.fail(`checkpoint ${checkpoints + 1} (after frame ${i}) not applied: ${(err as Error).message}`);
          break;
        }
        await checkMount();
        checkpoints++;
        t.equal(exited, null, `agent alive at checkpoint ${checkpoints}`, { diagnostic: false });
      }
    }
    const elapsed = Date.now() - started;
    await checkMount();
    t.equal(exited, null, 'the agent process is alive after the run');
    t.equal(strays, 0, `the mount shows nothing a valid assignment did not put there${strayExamples.length ? `: ${strayExamples.join(', ')}` : ''}`);
    // One parser (parseManagerMessage), one log line for every refusal; its reason tells the kinds apart.
    const reasons = lines.filter((l) => l.msg === 'bad frame from the manager: ignored').map((l) => String(l.err));
    const unknown = reasons.filter((e) => /unknown message type/.test(e)).length;
    const badFrames = reasons.filter((e) => /too short|overruns|not valid JSON|trailing bytes|no message type|invalid blob lengths/.test(e)).length;
    const refused = reasons.length - unknown - badFrames;
    const failedApply = lines.filter((l) => l.msg === 'applying assignments failed').length;
    t.ok(refused > 0 && badFrames > 0 && unknown > 0, 'refusals are logged');
    t.equal(failedApply, 0, 'no assignment half-applied and failed (all bad ones refused up front)');
    t.notOk(JSON.stringify(lines).includes(MARKER.toString()), 'no secret bytes in the agent log');
    for (const [k, n] of [...kinds].sort()) t.comment(`figure frame-fuzz.to-agent.kind: ${k}: ${n}`);
    t.comment(
      `figure frame-fuzz.to-agent: ${sent.toLocaleString('en')} frames to a real agent process in ${(elapsed / 1000).toFixed(1)} s, ${connections} connections (the agent ignores a bad frame whole and keeps its session), ${checkpoints} mount checkpoints, stray entries ${strays}; logged: ${refused} invalid assignments refused, ${badFrames} bad frames, ${unknown} unknown types, ${failedApply} failed applies; ${statuses.length} frames from the agent besides heartbeats; agent alive`,
    );
  });
}
