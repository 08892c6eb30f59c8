// POST /exec/{id}/start with `Upgrade: tcp` (reference §3.4): the connection becomes the exec's stdin and output,
// stdcopy-framed without a TTY, raw with one. Node gives the socket on 'upgrade' with the bytes read past the
// headers; the JSON body (Content-Length) comes first, then stdin.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { frame, STDERR, STDOUT } from '../../shared/stdcopy.js';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import type { ExecStore } from './exec-store.js';
import { COMMON_HEADERS, EngineError, noSuchExec, parseJsonObject, streamContentType } from './http.js';
import { EngineRouter, splitTarget } from './router.js';

const START_ROUTE = ['exec', ':id', 'start'];
const MAX_BODY = 64 * 1024;

function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message }) + '\n';
  const reason = status === 404 ? 'Not Found' : status === 409 ? 'Conflict' : status === 400 ? 'Bad Request' : 'Error';
  const head = [`HTTP/1.1 ${status} ${reason}`, ...COMMON_HEADERS.map(([k, v]) => `${k}: ${v}`), 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

/** Reads the request body (Content-Length bytes) from head + socket; resolves with it and the bytes after it. */
function readBody(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<{ body: Buffer; rest: Buffer }> {
  const want = Number(req.headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(want) || want < 0 || want > MAX_BODY) return Promise.reject(new EngineError(400, 'invalid Content-Length for exec start'));
  if (req.headers['transfer-encoding'] !== undefined) return Promise.reject(new EngineError(400, 'a chunked exec start body is not supported'));
  let got = head;
  if (got.length >= want) return Promise.resolve({ body: got.subarray(0, want), rest: got.subarray(want) });
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      if (got.length < want) return;
      done();
      resolve({ body: got.subarray(0, want), rest: got.subarray(want) });
    };
    const onEnd = (): void => {
      done();
      reject(new EngineError(400, 'connection closed before the exec start body'));
    };
    const done = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
  });
}

/** Handles an 'upgrade' request; returns false when it is not an exec start (the caller refuses it). */
export function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, o: { execs: ExecStore; log: Logger }): boolean {
  let target;
  try {
    target = splitTarget(req.url ?? '/');
  } catch (err) {
    refuse(socket, 400, errorMessage(err));
    return true;
  }
  const params = req.method === 'POST' ? EngineRouter.match(START_ROUTE, target.path) : null;
  if (!params) return false;
  socket.on('error', () => undefined);
  void start(req, socket, head, params.id!, target.apiVersion, o).catch((err) => {
    if (err instanceof EngineError) refuse(socket, err.status, err.message);
    else {
      o.log.error({ err: errorMessage(err) }, 'exec start failed');
      refuse(socket, 500, errorMessage(err));
    }
  });
  return true;
}

async function start(req: IncomingMessage, socket: Duplex, head: Buffer, id: string, apiVersion: string, o: { execs: ExecStore; log: Logger }): Promise<void> {
  const { body, rest } = await readBody(req, socket, head);
  const opts = parseJsonObject(body);
  const e = o.execs.get(id);
  if (!e) throw noSuchExec(id);
  if (e.started) throw new EngineError(409, `Exec command ${e.id} has already run`);
  const tty = e.req.tty;
  if (tty && Array.isArray(opts.ConsoleSize) && opts.ConsoleSize.length === 2) {
    const [h, w] = opts.ConsoleSize as unknown[];
    if (Number.isInteger(h) && Number.isInteger(w)) e.size = { rows: h as number, cols: w as number };
  }
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase() === 'tcp';
  const head101 = upgrade
    ? ['HTTP/1.1 101 UPGRADED', `Content-Type: ${streamContentType(tty, apiVersion)}`, 'Connection: Upgrade', 'Upgrade: tcp']
    : ['HTTP/1.1 200 OK', 'Content-Type: application/vnd.docker.raw-stream'];
  socket.write(`${[...head101, ...COMMON_HEADERS.map(([k, v]) => `${k}: ${v}`)].join('\r\n')}\r\n\r\n`);
  const { child, done } = o.execs.spawn(e);
  const out = (stream: number) => (b: Buffer): void => {
    if (stream === STDOUT ? !e.attachStdout : !e.attachStderr) return;
    socket.write(tty ? b : frame(stream, b));
  };
  child.stdout!.on('data', out(STDOUT));
  child.stderr!.on('data', out(STDERR));
  if (e.attachStdin) {
    if (rest.length > 0) child.stdin!.write(rest);
    socket.on('data', (c: Buffer) => child.stdin!.write(c));
    socket.on('end', () => child.stdin!.end());
    socket.resume();
  } else {
    child.stdin!.end();
    socket.on('data', () => undefined);
    socket.resume();
  }
  // The client went away: the command loses its input and, like Docker's, keeps running to its end.
  socket.on('close', () => child.stdin!.destroy());
  const code = await done;
  o.log.debug({ exec: e.id, task: e.taskId, exitCode: code }, 'exec finished');
  socket.end();
}
