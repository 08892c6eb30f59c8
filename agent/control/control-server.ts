// The agent's control socket: a root-only Unix socket (0600 from its first moment, in the 0700 state dir) that answers the local
// `runsecrets task exec` (see protocol.ts). A socket left by a killed agent is replaced at start; one that still
// answers means another agent uses this state dir, and we refuse to take it over. Removed on close.
import net from 'node:net';
import { chmodSync, lstatSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { CONTROL_VERSION, MAX_REQUEST_BYTES, type ControlAnswer, type ExecTarget } from './protocol.js';

export interface ControlServerOptions {
  path: string;
  log: Logger;
  /** The running task the argument names; throws (with the text for the caller) when there is none. */
  execTarget(task: string): ExecTarget;
}

export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

/** Whether something answers on the socket at path (false when nothing listens there). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const c = net.connect(path);
    const timer = setTimeout(() => {
      c.destroy();
      resolve(true); // accepted but silent still means a live listener
    }, 1000);
    c.once('connect', () => {
      clearTimeout(timer);
      c.destroy();
      resolve(true);
    });
    c.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(new Error(`cannot check the existing control socket ${path}: ${err.message}`));
    });
  });
}

async function clearStale(path: string, log: Logger): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket: refusing to replace it`);
  if (await answers(path)) throw new Error(`another agent is serving the control socket ${path} (same --state-dir?)`);
  unlinkSync(path);
  log.info({ socket: path }, 'replaced a stale control socket');
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
    let req: { v?: unknown; op?: unknown; task?: unknown };
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
    try {
      const target = o.execTarget(req.task);
      o.log.info({ task: target.id, pid: target.pid }, 'exec target given'); // never the env: values may be private
      answer(sock, { v: CONTROL_VERSION, ok: true, target });
    } catch (err) {
      answer(sock, { v: CONTROL_VERSION, ok: false, error: errorMessage(err) });
    }
  });
}

export async function startControlServer(o: ControlServerOptions): Promise<ControlServer> {
  await clearStale(o.path, o.log);
  const conns = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    conns.add(sock);
    sock.once('close', () => conns.delete(sock));
    handle(sock, o);
  });
  // Root only: whoever reaches it learns task pids and environments. The socket is made in a fresh 0700 folder,
  // made 0600 there, and only then renamed into place, so that it is never reachable with a wider mode, whatever
  // folder the path is in (a connection goes by the socket's inode, which the rename keeps).
  const privateDir = mkdtempSync(join(dirname(o.path), '.agent-sock-'));
  const bound = join(privateDir, 's');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bound, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(bound, 0o600);
    renameSync(bound, o.path);
  } catch (err) {
    server.close();
    throw new Error(`cannot create the control socket ${o.path}: ${errorMessage(err)}`);
  } finally {
    rmSync(privateDir, { recursive: true, force: true });
  }
  const ino = lstatSync(o.path).ino;
  server.on('error', (err) => o.log.error({ err: errorMessage(err), socket: o.path }, 'control socket error'));
  o.log.info({ socket: o.path }, 'control socket listening');
  let closing: Promise<void> | null = null;
  return {
    path: o.path,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const c of conns) c.destroy();
        server.close(() => resolve());
      }).finally(() => {
        // Only our own socket: a newer agent may have replaced it meanwhile.
        try {
          if (lstatSync(o.path).ino === ino) unlinkSync(o.path);
        } catch {
          /* already gone */
        }
      })),
  };
}
