// A node is ready from its join, and opens its session afterwards: seconds later on a loaded host (20 agents starting
// on 2 cores took 1-7 s). The heartbeat check judged a node never heard from since the manager started by that start,
// so once the manager had run for its grace a node that joined went down at the next check, before it could open its
// session (18 of 20 in the 20 x 50 bench). Its join counts as hearing from it; one that never comes still goes down.
import t from 'tap';
import pino from 'pino';
import WebSocket, { type ClientOptions } from 'ws';
import type { ConnectionOptions } from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { isRoot, request, runCli } from '../helpers/manager.js';
import { Manager } from '../../manager/manager.js';
import { STARTUP_GRACE_MS } from '../../manager/dispatcher/dispatcher.js';
import { joinCluster } from '../../agent/session/join.js';
import { encodeAgentFrame } from '../../shared/protocol.js';
import { createLogger } from '../../shared/log.js';

const PERIOD_MS = 1000; // long enough that the joins and checks of a loaded machine fit in the window
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('a node that just joined is not down before it opens its session', { skip: isRoot() ? false : 'needs root (the manager state is root-only)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-joingrace-'));
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
  // Past the start's grace and its missed periods: from now on a node never heard from is judged at once.
  await sleep(STARTUP_GRACE_MS + 4 * PERIOD_MS);

  const nodeLog = createLogger('test', 'silent');
  const state = async (id: string): Promise<string | undefined> =>
    ((await request(socket, 'GET', `/nodes/${id}`)).json as { Status?: { State?: string } } | undefined)?.Status?.State;
  const downsOf = (id: string): string[] => lines.filter((l) => l.includes('node down') && l.includes(id));

  const silent = await joinCluster({ manager: { host: '127.0.0.1', port }, token, stateDir: join(dir, 'silent'), hostname: 'never-comes', labels: {}, log: nodeLog });
  const late = await joinCluster({ manager: { host: '127.0.0.1', port }, token, stateDir: join(dir, 'late'), hostname: 'late-session', labels: {}, log: nodeLog });
  const joinedAt = Date.now();
  t.equal(await state(late.nodeId), 'ready', 'ready from its join');
  await sleep(1.5 * PERIOD_MS); // a period and a half without a session: a heartbeat check ran meanwhile

  const tlsOpts: ConnectionOptions = { cert: late.certPem, key: late.keyPem, ca: [late.caPem], checkServerIdentity: () => undefined };
  const ws = new WebSocket(`wss://127.0.0.1:${port}/runsecrets/session`, { ...(tlsOpts as unknown as ClientOptions), perMessageDeflate: false });
  const closes: number[] = [];
  ws.on('close', (code) => closes.push(code));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const beat = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(encodeAgentFrame({ type: 'heartbeat' })), PERIOD_MS / 2);
  t.teardown(() => {
    clearInterval(beat);
    ws.terminate();
  });
  const openedAfterMs = Date.now() - joinedAt;
  await sleep(4 * PERIOD_MS);

  t.same(downsOf(late.nodeId), [], `the node that opened its session ${openedAfterMs} ms after joining was never marked down`);
  t.equal(await state(late.nodeId), 'ready', 'and is ready');
  t.same(closes, [], 'its session stayed open');
  t.ok(downsOf(silent.nodeId).length > 0, 'a node that joined and never opened a session went down after its missed periods');
  t.equal(await state(silent.nodeId), 'down', 'and is down');
});
