// A node that speaks the real session protocol but runs nothing: it joins with a real token (a real node
// certificate), keeps a session over mutual TLS, records every assignment frame the manager sends it, and reports
// whatever task states a test tells it to (e.g. a rejected pull). For manager-side tests of what nodes receive and
// of what the manager makes of their reports, without a runtime.
import WebSocket, { type ClientOptions } from 'ws';
import type { ConnectionOptions } from 'node:tls';
import { joinCluster } from '../../agent/session/join.js';
import { createLogger } from '../../shared/log.js';
import { encodeAgentFrame, parseManagerMessage, type ManagerMessage, type TaskAssignment } from '../../shared/protocol.js';
import { waitFor } from './wait.js';

export interface FakeNode {
  nodeId: string;
  /** Every frame received, as sent (copies): to search for bytes that must not be there. */
  frames: Buffer[];
  /** The latest assignment of each task the manager gave this node (and did not remove). */
  tasks: Map<string, TaskAssignment>;
  /** Waits until a task assignment matching pred has arrived. */
  waitTask(pred: (a: TaskAssignment) => boolean, what: string, timeoutMs?: number): Promise<TaskAssignment>;
  /** Reports a task state, as an agent does. */
  report(taskId: string, state: string, texts?: { message?: string; err?: string; exitCode?: number }): void;
  close(): Promise<void>;
}

export async function fakeNode(o: { port: number; token: string; stateDir: string; hostname: string }): Promise<FakeNode> {
  const id = await joinCluster({ manager: { host: '127.0.0.1', port: o.port }, token: o.token, stateDir: o.stateDir, hostname: o.hostname, labels: {}, log: createLogger('test', 'silent') });
  // tls.connect's checkServerIdentity returns an Error or undefined (ws's typing is older): the CA pins the manager.
  const tlsOpts: ConnectionOptions = { cert: id.certPem, key: id.keyPem, ca: [id.caPem], checkServerIdentity: () => undefined };
  const ws = new WebSocket(`wss://127.0.0.1:${o.port}/runsecrets/session`, { ...(tlsOpts as unknown as ClientOptions), perMessageDeflate: false });
  const frames: Buffer[] = [];
  const tasks = new Map<string, TaskAssignment>();
  let beat: NodeJS.Timeout | null = null;
  ws.on('message', (data: Buffer) => {
    frames.push(Buffer.from(data));
    const { msg } = parseManagerMessage(data);
    handle(msg);
  });
  const handle = (msg: ManagerMessage): void => {
    if (msg.type === 'welcome') {
      beat = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(encodeAgentFrame({ type: 'heartbeat' })), Math.max(50, Math.floor(msg.heartbeatMs / 2)));
      beat.unref();
    } else if (msg.type === 'assign') {
      if (msg.full) tasks.clear();
      for (const id of msg.removeTasks) tasks.delete(id);
      for (const a of msg.tasks) tasks.set(a.id, a);
    }
  };
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  return {
    nodeId: id.nodeId,
    frames,
    tasks,
    waitTask: (pred, what, timeoutMs = 20_000) => waitFor(what, () => [...tasks.values()].find(pred), { timeoutMs }),
    report: (taskId, state, texts = {}) => ws.send(encodeAgentFrame({ type: 'status', taskId, state, ...texts })),
    close: async () => {
      if (beat) clearInterval(beat);
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
      await closed;
    },
  };
}
