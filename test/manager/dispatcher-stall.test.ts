// A stall of the manager itself (a long GC, a long synchronous task) must not mark nodes down whose heartbeats
// arrived on time. Node runs due timers before it reads pending sockets, so after a stall the heartbeat check used
// to run while the heartbeats sent meanwhile were still unread, and a healthy node went down (its tasks replaced).
// Here the manager runs in this process and a node sends heartbeats from a worker thread, which keeps going while
// the main thread is blocked for 2.75 heartbeat periods, ten times.
import t from 'tap';
import pino from 'pino';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { isRoot, request, runCli } from '../helpers/manager.js';
import { Manager } from '../../manager/manager.js';
import { joinCluster } from '../../agent/session/join.js';
import { encodeFrame } from '../../shared/protocol.js';
import { createLogger } from '../../shared/log.js';

const PERIOD_MS = 200;
const STALL_MS = 550; // 2.75 periods: heartbeats sent during it wait unread; none is late
const ROUNDS = 10;

// A bare node: sends a heartbeat every period over the real session endpoint, never judges the manager's silence.
const NODE = `
const { workerData, parentPort } = require('node:worker_threads');
const WebSocket = require('ws');
const { cert, key, ca, port, period, heartbeat } = workerData;
const ws = new WebSocket('wss://127.0.0.1:' + port + '/runsecrets/session', { cert, key, ca, checkServerIdentity: () => undefined, perMessageDeflate: false });
ws.on('open', () => { parentPort.postMessage('open'); setInterval(() => ws.send(Buffer.from(heartbeat)), period); });
ws.on('message', () => {});
ws.on('error', (e) => parentPort.postMessage('error ' + e.message));
ws.on('close', (c) => parentPort.postMessage('close ' + c));
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('a stalled manager reads the heartbeats that came meanwhile before judging nodes', { skip: isRoot() ? false : 'needs root (the manager state is root-only)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-stall-m-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  const socket = join(dir, 'manager.sock');
  const init = await runCli(['manager', 'init', '--state-dir', stateDir, '--advertise-addr', '127.0.0.1:2377', '--dispatcher-heartbeat', `${PERIOD_MS}ms`]);
  t.equal(init.code, 0, `init: ${init.stderr}`);
  const token = /RSTKN-1-[0-9a-z]+-[0-9a-z]+/.exec(init.stdout)?.[0] ?? '';
  const lines: string[] = [];
  const log = pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, { write: (l: string) => void lines.push(l) });
  const m = new Manager({ stateDir, socketPath: socket, listen: '127.0.0.1:0', log });
  await m.start();
  t.teardown(() => m.stop());
  const port = m.tcpPort!;
  const id = await joinCluster({ manager: { host: '127.0.0.1', port }, token, stateDir: join(dir, 'node'), hostname: 'stall-node', labels: {}, log: createLogger('test', 'silent') });

  const events: string[] = [];
  const node = new Worker(NODE, {
    eval: true,
    workerData: { cert: id.certPem, key: id.keyPem, ca: id.caPem, port, period: PERIOD_MS, heartbeat: new Uint8Array(encodeFrame({ type: 'heartbeat' })) },
  });
  node.on('message', (e: string) => events.push(e));
  t.teardown(() => node.terminate());
  const state = async (): Promise<string | undefined> =>
    ((await request(socket, 'GET', `/nodes/${id.nodeId}`)).json as { Status?: { State?: string } } | undefined)?.Status?.State;
  for (let i = 0; i < 100 && !(events.includes('open') && (await state()) === 'ready'); i++) await sleep(50);
  t.same(events, ['open'], 'the node has its session');
  t.equal(await state(), 'ready', 'and is ready');
  await sleep(3 * PERIOD_MS);

  const blocker = new Int32Array(new SharedArrayBuffer(4));
  for (let r = 0; r < ROUNDS; r++) {
    Atomics.wait(blocker, 0, 0, STALL_MS); // the manager's thread (this one) does nothing meanwhile
    await sleep(3 * PERIOD_MS);
  }
  const downs = lines.filter((l) => l.includes('node down'));
  t.same(downs, [], `no node marked down across ${ROUNDS} stalls of ${STALL_MS} ms (heartbeat ${PERIOD_MS} ms, down after ${3 * PERIOD_MS} ms)`);
  t.equal(await state(), 'ready', 'the node is still ready');
  t.same(events, ['open'], 'its session never closed');
});
