// One FUSE connection: reads requests from /dev/fuse, hands them to a handler, writes the replies, and sends
// cache notifications. Replies are written synchronously (the kernel takes them at once); notifications are
// written off the event loop, because the kernel may make them wait on a lookup that we still have to answer.
import { read, writev, writevSync, closeSync } from 'node:fs';
import type { Logger } from '../../shared/log.js';
import { outHeader } from './fuse-protocol.js';
import { parseRequest, type FuseRequest, type ParseFailure } from './fuse-protocol-parse.js';

/** A handler's answer: body parts to send, a negative errno, or null for requests that take no reply. */
export type Reply = Buffer[] | number | null;
/** Gets only requests that parsed; the session answers the rest itself. */
export type Handler = (req: FuseRequest) => Reply;

const ENOENT = 2;
const ENODEV = 19;
const EINTR = 4;
const EAGAIN = 11;
const READ_BUFFER = 132 * 1024; // >= FUSE_MIN_READ_BUFFER and any request the kernel sends a read-only fs
const READERS = 2; // requests in flight at once: one being answered while the next is read

export class FuseSession {
  private closed = false;
  private fdClosed = false;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;
  private activeReaders = 0;

  constructor(
    private readonly fd: number,
    private readonly handler: Handler,
    private readonly log: Logger,
  ) {
    this.done = new Promise((res) => (this.resolveDone = res));
  }

  start(): void {
    for (let i = 0; i < READERS; i++) this.readLoop(Buffer.alloc(READ_BUFFER));
  }

  /** Resolves when the kernel ended the connection (unmount) or close() was called. */
  get finished(): Promise<void> {
    return this.done;
  }

  private readLoop(buf: Buffer): void {
    if (this.closed) return this.end();
    this.activeReaders++;
    read(this.fd, buf, 0, buf.length, null, (err, n) => {
      this.activeReaders--;
      if (err) {
        const code = (err as NodeJS.ErrnoException).errno === undefined ? 0 : -(err as NodeJS.ErrnoException).errno!;
        if (code === ENOENT || code === EINTR || code === EAGAIN) return this.readLoop(buf); // interrupted: go on
        if (code !== ENODEV && !this.closed) this.log.error({ err: err.message }, 'reading /dev/fuse failed');
        return this.end();
      }
      try {
        this.dispatch(buf.subarray(0, n));
      } catch (e) {
        this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'fuse request handling failed');
      }
      this.readLoop(buf);
    });
  }

  private dispatch(msg: Buffer): void {
    const out = respond(msg, this.handler, this.log);
    if (out) this.write(out);
  }

  private write(parts: Buffer[]): void {
    if (this.closed) return;
    try {
      writevSync(this.fd, parts);
    } catch (err) {
      // ENOENT: the request was interrupted and is gone; nothing to do.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENODEV') {
        this.log.error({ err: (err as Error).message }, 'writing a fuse reply failed');
      }
    }
  }

  /**
   * Sends a notification; resolves when the kernel has applied it, with null, or with the error code it gave.
   * ENOENT (the kernel did not hold what it names) is success: there was nothing to drop.
   */
  notify(parts: Buffer[]): Promise<string | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      writev(this.fd, parts, (err) => {
        const code = (err as NodeJS.ErrnoException | null)?.code;
        resolve(err && code !== 'ENOENT' && !this.closed ? (code ?? err.message) : null);
      });
    });
  }

  /** Marks the session over; the fd is closed once no read is pending on it. */
  private end(): void {
    this.closed = true;
    if (this.activeReaders > 0 || this.fdClosed) return;
    this.fdClosed = true;
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
    this.resolveDone();
  }

  /** Stops serving. Call after the unmount, which makes the pending reads return ENODEV. */
  close(): void {
    this.end();
  }
}

/**
 * What to write back for one request as read: the reply's parts, or null when nobody waits for one. Requests that
 * do not parse are answered here (when someone waits) and logged with sizes and the reason, never their bytes.
 */
export function respond(msg: Buffer, handler: Handler, log: Logger): Buffer[] | null {
  const parsed = parseRequest(msg);
  if (!parsed.ok) return refuse(parsed.failure, log);
  const req = parsed.req;
  let reply: Reply;
  try {
    reply = handler(req);
  } catch (e) {
    // A handler never throws by design; if one does, the caller gets EIO and the agent stays up.
    log.error({ op: req.op, err: e instanceof Error ? e.message : String(e) }, 'fuse handler threw');
    reply = -5;
  }
  if (reply === null) return null;
  if (typeof reply === 'number') return [outHeader(req.unique, reply, 0)];
  return [outHeader(req.unique, 0, reply.reduce((s, b) => s + b.length, 0)), ...reply];
}

function refuse(f: ParseFailure, log: Logger): Buffer[] | null {
  const fields = { opcode: f.opcode, unique: f.unique?.toString(), reason: f.reason, headerLen: f.headerLen, readLen: f.readLen };
  if (f.kind === 'malformed') log.warn(fields, 'malformed fuse request refused');
  else log.debug(fields, f.kind === 'unsupported' ? 'fuse opcode not served' : 'fuse name not found');
  return f.reply && f.unique !== null ? [outHeader(f.unique, -f.errno, 0)] : null;
}
