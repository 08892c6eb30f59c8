// The agent's control socket: a root-only Unix socket (0600 from its first moment, in the 0700 state dir) that answers the local
// `runsecrets task exec` (see protocol.ts). A socket left by a killed agent is replaced at start; one that still
// answers means another agent uses this state dir, and we refuse to take it over. Removed on close.
import net from 'node:net';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { listenRootOnly } from '../root-socket.js';
import { CONTROL_VERSION, MAX_REQUEST_BYTES, parseExecCommandRequest, type ControlAnswer, type ExecCommandRequest, type ExecTarget } from './protocol.js';

export interface ControlServerOptions {
  path: string;
  log: Logger;
  /** The running task the argument names; throws (with the text for the caller) when there is none. With exec, a
   * task in a container also gets the command that runs it inside. */
  execTarget(task: string, exec: ExecCommandRequest | null): ExecTarget;
}

export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

function answer(sock: net.Socket, a: ControlAnswer): void {
  sock.end(JSON.stringify(a) + '\n');
}

function handle(sock: net.Socket, o: ControlServerOptions): void {
  sock.setTimeout(10_000, () => sock.destroy());
  sock.on('error', () => undefined); // a caller that went away
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl < 0 && buf.length <= MAX_REQUEST_BYTES) return;
    sock.removeAllListeners('data'); // one request per connection
    if (nl < 0) {
      answer(sock, { v: CONTROL_VERSION, ok: false, error: 'request too long' });
      return;
    }
    let req: { v?: unknown; op?: unknown; task?: unknown; exec?: unknown };
    try {
      req = JSON.parse(buf.slice(0, nl)) as typeof req;
    } catch {
      answer(sock, { v: CONTROL_VERSION, ok: false, error: 'request is not a JSON line' });
      return;
    }
    if (req.v !== CONTROL_VERSION) {
      answer(sock, { v: CONTROL_VERSION, ok: false, error: `unsupported control protocol version ${String(req.v)} (this agent speaks ${CONTROL_VERSION})` });
      return;
    }
    if (req.op !== 'exec-target' || typeof req.task !== 'string') {
      answer(sock, { v: CONTROL_VERSION, ok: false, error: `unknown request ${JSON.stringify(req.op)}: expected {"op":"exec-target","task":…}` });
      return;
    }
    const exec = parseExecCommandRequest(req.exec);
    if (exec instanceof Error) {
      answer(sock, { v: CONTROL_VERSION, ok: false, error: `bad request: ${exec.message}` });
      return;
    }
    try {
      const target = o.execTarget(req.task, exec);
      // Never the env or the command line: values may be private.
      o.log.info({ task: target.id, pid: target.pid, container: target.command !== undefined }, 'exec target given');
      answer(sock, { v: CONTROL_VERSION, ok: true, target });
    } catch (err) {
      answer(sock, { v: CONTROL_VERSION, ok: false, error: errorMessage(err) });
    }
  });
}

export async function startControlServer(o: ControlServerOptions): Promise<ControlServer> {
  const conns = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    conns.add(sock);
    sock.once('close', () => conns.delete(sock));
    handle(sock, o);
  });
  // Root only: whoever reaches it learns task pids and environments.
  const sock = await listenRootOnly(server, o.path, 'control socket', o.log);
  let closing: Promise<void> | null = null;
  return {
    path: o.path,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const c of conns) c.destroy();
        server.close(() => resolve());
      }).finally(() => sock.unlink())),
  };
}
