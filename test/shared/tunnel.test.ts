// The session tunnel (shared/tunnel.ts) between two muxes wired back to back through the real frame encoders and
// parsers: bytes both ways with half-close, the flow-control window against a reader that does not read, the cap on
// open streams, resets and the session's end; and the stream frames' parsing (shared/protocol.ts).
import t from 'tap';
import {
  MAX_AGENT_FRAME_BYTES, ProtocolError, TUNNEL_CHUNK_BYTES, encodeAgentFrame, encodeStreamFrame, parseAgentMessage, parseManagerMessage,
  type StreamMessage,
} from '../../shared/protocol.js';
import { MAX_OPEN_STREAMS, TUNNEL_WINDOW_BYTES, TunnelMux, type TunnelStream } from '../../shared/tunnel.js';

/** Manager (opener) and agent (acceptor) muxes; frames are encoded, parsed and delivered on a later tick. */
function pair(): { manager: TunnelMux; agent: TunnelMux; accepted: TunnelStream[]; open(): TunnelStream; sentToManager: () => number } {
  const accepted: TunnelStream[] = [];
  let toManagerBytes = 0;
  const manager: TunnelMux = new TunnelMux({
    send: (m) => {
      const frame = encodeStreamFrame(m);
      setImmediate(() => {
        const { msg } = parseManagerMessage(frame);
        if (msg.type === 'stream-open') {
          const s = agent.accept(msg.stream);
          if (s) accepted.push(s);
        } else agent.receive(msg as StreamMessage);
      });
      return true;
    },
  });
  const agent: TunnelMux = new TunnelMux({
    send: (m) => {
      const frame = encodeAgentFrame(m);
      if (m.type === 'stream-data') toManagerBytes += m.data.length;
      setImmediate(() => manager.receive(parseAgentMessage(frame) as StreamMessage));
      return true;
    },
  });
  const open = (): TunnelStream => {
    const s = manager.open()!;
    manager.send({ type: 'stream-open', stream: s.id } as unknown as StreamMessage); // (the dispatcher sends stream-open)
    return s;
  };
  return { manager, agent, accepted, open, sentToManager: () => toManagerBytes };
}

const readAll = (s: TunnelStream): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (b: Buffer) => parts.push(b));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
    s.resume(); // (a 'data' listener does not resume a stream paused on purpose)
  });

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
async function settle(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await tick();
}

t.test('bytes both ways, each direction ended on its own', async (t) => {
  const p = pair();
  const m = p.open();
  await settle();
  const a = p.accepted[0]!;
  t.ok(a, 'the agent side accepted the stream');
  const big = Buffer.alloc(3 * TUNNEL_CHUNK_BYTES + 5, 7);
  const gotAtAgent = readAll(a);
  m.end(big);
  t.same(await gotAtAgent, big, 'manager to agent, in chunks, ended');
  const gotAtManager = readAll(m);
  a.end('answer after the request ended');
  t.equal((await gotAtManager).toString(), 'answer after the request ended', 'agent to manager after the half-close');
});

t.test('a reader that does not read holds the writer to the window', async (t) => {
  const p = pair();
  const m = p.open();
  await settle();
  const a = p.accepted[0]!;
  m.pause(); // the manager's client is not reading (a paused docker logs -f)
  const total = 4 * TUNNEL_WINDOW_BYTES;
  let written = 0;
  const writeMore = (): void => {
    while (written < total) {
      written += TUNNEL_CHUNK_BYTES;
      if (!a.write(Buffer.alloc(TUNNEL_CHUNK_BYTES, 1))) return void a.once('drain', writeMore);
    }
    a.end();
  };
  writeMore();
  await settle(200);
  const sent = p.sentToManager();
  t.ok(sent <= TUNNEL_WINDOW_BYTES + m.readableHighWaterMark + TUNNEL_CHUNK_BYTES, `sent ${sent} bytes while nothing was read (window ${TUNNEL_WINDOW_BYTES})`);
  t.ok(sent < total, 'the writer is held back');
  const all = await readAll(m); // resumes reading
  t.equal(all.length, total, 'everything arrives once read');
});

t.test('open streams are capped per session; a refused open is reset', async (t) => {
  const p = pair();
  const streams: TunnelStream[] = [];
  for (let i = 0; i < MAX_OPEN_STREAMS; i++) streams.push(p.open());
  t.equal(p.manager.open(), null, 'the opener refuses one more');
  await settle();
  t.equal(p.accepted.length, MAX_OPEN_STREAMS);
  t.equal(p.agent.accept(999_999), null, 'the acceptor refuses one more too');
  streams[0]!.destroy();
  await settle();
  t.equal(p.agent.size, MAX_OPEN_STREAMS - 1, 'a reset frees the peer side');
  t.ok(p.manager.open(), 'and a new one can open');
});

t.test("a reset ends the peer's stream with its reason; the session's end fails every stream", async (t) => {
  const p = pair();
  const m = p.open();
  await settle();
  const a = p.accepted[0]!;
  const err = new Promise<Error>((r) => m.once('error', r));
  a.on('error', () => undefined); // (its own error, as the engine API's socket sees it)
  a.destroy(new Error('container gone'));
  t.match((await err).message, /reset by the peer: container gone/);
  const m2 = p.open();
  const err2 = new Promise<Error>((r) => m2.once('error', r));
  p.manager.closeAll('the session of node N closed');
  t.match((await err2).message, 'the session of node N closed');
  t.equal(p.manager.size, 0);
});

t.test('stream frames parse into typed values; bad ones are refused', async (t) => {
  const d = parseAgentMessage(encodeAgentFrame({ type: 'stream-data', stream: 3, data: Buffer.from('hi') }));
  t.same({ ...d, data: Buffer.from((d as { data: Uint8Array }).data).toString() }, { type: 'stream-data', stream: 3, data: 'hi' });
  t.same(parseAgentMessage(encodeAgentFrame({ type: 'stream-ack', stream: 3, bytes: 10 })), { type: 'stream-ack', stream: 3, bytes: 10 });
  t.same(parseManagerMessage(encodeStreamFrame({ type: 'stream-open', stream: 9 })).msg, { type: 'stream-open', stream: 9 });
  t.throws(() => parseAgentMessage(encodeAgentFrame({ type: 'stream-data', stream: 1, data: Buffer.alloc(TUNNEL_CHUNK_BYTES + 1) })), ProtocolError, 'a chunk over the limit');
  t.throws(() => encodeAgentFrame({ type: 'stream-data', stream: 1, data: Buffer.alloc(MAX_AGENT_FRAME_BYTES) }), /exceeds the limit/);
  t.throws(() => parseAgentMessage(encodeAgentFrame({ type: 'stream-end', stream: -1 } as never)), ProtocolError, 'a negative stream ID');
  t.throws(() => parseAgentMessage(encodeAgentFrame({ type: 'stream-open', stream: 1 } as never)), /unknown message type/, 'an agent cannot open streams');
});

t.test('a peer that sends past the window loses the stream (a compromised agent cannot fill the manager)', async (t) => {
  const sent: StreamMessage[] = [];
  const mux = new TunnelMux({ send: (m) => (sent.push(m), true) });
  const s = mux.open()!;
  s.pause(); // a reader that does not read: nothing is acknowledged
  const errored = new Promise<Error>((resolve) => s.once('error', resolve));
  const chunk = new Uint8Array(TUNNEL_CHUNK_BYTES);
  for (let off = 0; off <= TUNNEL_WINDOW_BYTES; off += TUNNEL_CHUNK_BYTES) mux.receive({ type: 'stream-data', stream: s.id, data: chunk });
  t.match((await errored).message, /past the flow-control window/, 'the stream fails');
  t.ok(sent.some((m) => m.type === 'stream-reset' && m.stream === s.id), 'and the peer is told (stream-reset)');
  t.ok(s.readableLength <= TUNNEL_WINDOW_BYTES, `no more than the window was buffered (${s.readableLength} bytes)`);
});
