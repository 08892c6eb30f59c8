// Issue 9, finding 7: a node certificate (a fresh worker, joined with the token) sends the manager one 250 MiB
// status frame on its session. Before: the manager buffered it whole (about 1 GB of RSS) and its event loop stalled
// for seconds. Now: agent frames are limited to 64 KiB at the WebSocket layer, so the frame is refused from its
// header (close 1009) before being buffered; the manager's memory does not follow the frame, a concurrent `_ping`
// over the Unix socket answers promptly, and the node can reconnect and carry on. A frame just over the limit is
// refused the same way, and malformed frames within it close the session with a protocol error (1002).
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { isRoot, request, startManager } from '../helpers/manager.js';
import { createLogger } from '../../shared/log.js';
import { encodeFrame, MAX_AGENT_FRAME_BYTES, parseManagerMessage, type AgentMessage, type ManagerMessage } from '../../shared/protocol.js';
import { joinCluster, type NodeIdentity } from '../../agent/session/join.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const BIG = 250 * 1024 * 1024;

/** The manager's resident memory and its high-water mark, in bytes (/proc/PID/status). */
function memory(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

interface Session {
  ws: WebSocket;
  received: ManagerMessage[];
  closed: Promise<{ code: number; reason: string }>;
}

/** A raw session with the node's certificate, so that any frame can be sent. */
async function openSession(port: number, id: NodeIdentity): Promise<Session> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/runsecrets/session`, {
    cert: id.certPem,
    key: id.keyPem,
    ca: [id.caPem],
    // the manager on 127.0.0.1 that this test started (tls wants an Error or undefined; ws types it as boolean)
    checkServerIdentity: (() => undefined) as never,
    perMessageDeflate: false,
  });
  const received: ManagerMessage[] = [];
  ws.on('message', (d: Buffer) => received.push(parseManagerMessage(d).msg));
  ws.on('error', () => undefined); // writing the rest of a refused frame fails: expected
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, received, closed };
}

const agentFrame = (m: AgentMessage | Record<string, unknown>, blobs: Buffer[] = []): Buffer => encodeFrame(m as AgentMessage, blobs);

t.test('oversize and malformed agent frames are refused; the node carries on', async (t) => {
  const m = await startManager({ t, logLevel: 'info' });
  const pid = m.pid()!;
  const dir = mkdtempSync(join(tmpdir(), 'rs-frames-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const id = await joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: m.workerToken, stateDir: join(dir, 'node'), hostname: 'big-framer', labels: {}, log: createLogger('test-agent', 'silent') });

  // The attack: one 250 MiB status frame (a valid header, then a 250 MiB message text), written as one raw
  // WebSocket frame (binary, masked with a zero key) in 1 MiB pieces: ws would mask 250 MiB, and TLS encrypt it,
  // in one synchronous go and stall this process, and with it the _ping measurement.
  const header = Buffer.from(JSON.stringify({ type: 'status', taskId: 'x', state: 'running', message: '' }));
  const wsHeader = Buffer.alloc(14);
  wsHeader[0] = 0x82;
  wsHeader[1] = 0x80 | 127;
  wsHeader.writeBigUInt64BE(BigInt(BIG), 2);
  const first = Buffer.alloc(4 + header.length);
  first.writeUInt32BE(header.length, 0);
  header.copy(first, 4);
  const piece = Buffer.alloc(1 << 20, 0x41);
  const s1 = await openSession(m.tcpPort, id);
  await t.resolves(waitForType(s1, 'welcome'), 'session open');
  const before = memory(pid);
  let slowest = 0;
  let pings = 0;
  let sending = true;
  const pinger = (async () => {
    while (sending) {
      const t0 = performance.now();
      const r = await request(m.socket, 'GET', '/_ping');
      if (r.status === 200) pings++;
      slowest = Math.max(slowest, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const raw = (s1.ws as unknown as { _socket: import('node:net').Socket })._socket;
  const t0 = Date.now();
  let written = 0;
  const writer = (async () => {
    raw.write(wsHeader);
    raw.write(first);
    written = first.length;
    while (written < BIG && !raw.destroyed) {
      const n = Math.min(piece.length, BIG - written);
      written += n;
      if (!raw.write(piece.subarray(0, n))) await new Promise((r) => { raw.once('drain', r); raw.once('close', r); });
    }
  })();
  const closed = await s1.closed;
  const refusedAfter = Date.now() - t0;
  await writer;
  // A little longer, so that any late buffering would show.
  await new Promise((r) => setTimeout(r, 500));
  sending = false;
  await pinger;
  const after = memory(pid);
  const grew = after.hwm - before.hwm;
  t.comment(`figure frame limits: 250 MiB status frame refused with ${closed.code} after ${refusedAfter} ms (${(written / 2 ** 20).toFixed(0)} MiB written by then); manager peak RSS ${(before.hwm / 2 ** 20).toFixed(0)} -> ${(after.hwm / 2 ** 20).toFixed(0)} MiB (+${(grew / 2 ** 20).toFixed(1)} MiB); ${pings} concurrent _ping, slowest ${slowest.toFixed(0)} ms`);
  t.equal(closed.code, 1009, 'closed as too big (1009), from the frame header');
  t.ok(grew < 32 * 2 ** 20, `the manager's peak memory grew by ${(grew / 2 ** 20).toFixed(1)} MiB, far less than the frame`);
  t.ok(pings > 0 && slowest < 1000, `the event loop kept going: ${pings} _ping, slowest ${slowest.toFixed(0)} ms`);

  // Just over the limit: refused the same way. Malformed within it: a protocol error (1002).
  const s2 = await openSession(m.tcpPort, id);
  s2.ws.send(agentFrame({ type: 'status', taskId: 'x', state: 'running', message: 'y'.repeat(MAX_AGENT_FRAME_BYTES) }), { binary: true });
  t.equal((await s2.closed).code, 1009, 'a frame just over 64 KiB is refused');
  for (const [what, frame] of [
    ['blobs in an agent frame', agentFrame({ type: 'heartbeat' }, [Buffer.from('x')])],
    ['a status without a task ID', agentFrame({ type: 'status', state: 'running' })],
    ['an unknown message type', agentFrame({ type: 'assign', full: true, tasks: [], removeTasks: [], objects: [], removeObjects: [] })],
  ] as const) {
    const s = await openSession(m.tcpPort, id);
    s.ws.send(frame, { binary: true });
    const c = await s.closed;
    t.equal(c.code, 1002, `${what}: closed with a protocol error (${c.reason})`);
  }

  // The node reconnects and works: welcome, its full assignment, heartbeats answered.
  const s3 = await openSession(m.tcpPort, id);
  await t.resolves(waitForType(s3, 'welcome'), 'welcomed again');
  await t.resolves(waitForType(s3, 'assign'), 'its full assignment');
  s3.ws.send(agentFrame({ type: 'heartbeat' }), { binary: true });
  await t.resolves(waitForType(s3, 'heartbeat-ack'), 'heartbeat answered');
  const nodes = (await request(m.socket, 'GET', '/nodes')).json as { ID: string; Status: { State: string } }[];
  t.equal(nodes.find((n) => n.ID === id.nodeId)?.Status.State, 'ready', 'the node is ready');
  s3.ws.close();
  t.ok(m.logs().includes('bad frame from agent'), 'the refusal is logged');
});

async function waitForType(s: Session, type: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!s.received.some((x) => x.type === type)) {
    if (Date.now() > deadline) throw new Error(`no ${type} from the manager in 10 s (got ${s.received.map((x) => x.type).join(', ')})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('a protocol error quoting multi-byte text does not take the manager down', async (t) => {
  const m = await startManager({ t, logLevel: 'info' });
  const dir = mkdtempSync(join(tmpdir(), 'rs-frames-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const id = await joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: m.workerToken, stateDir: join(dir, 'node'), hostname: 'utf8-framer', labels: {}, log: createLogger('test-agent', 'silent') });
  // The error names the unknown type; 60 three-byte characters are 180 bytes, beyond a close reason's 123.
  const s = await openSession(m.tcpPort, id);
  s.ws.send(agentFrame({ type: '€'.repeat(60) }), { binary: true });
  const c = await s.closed;
  t.equal(c.code, 1002, `closed with a protocol error (${c.reason})`);
  t.ok(Buffer.byteLength(c.reason) <= 123, 'the reason fits a close frame');
  t.equal((await request(m.socket, 'GET', '/_ping')).status, 200, 'the manager is still up');
  t.notOk(m.logs().includes('RangeError'), 'no crash');
});
