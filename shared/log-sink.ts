// Where log lines go: fd 2, written off the event loop with a bounded queue. A daemon must not stop because nobody
// reads its stderr: with synchronous writes, a full pipe (a paused `| less`, a stuck log shipper) blocked the whole
// process, and for the agent that meant every read of the secrets mount hung with it. Here a full pipe only costs
// log lines: past the bound they are dropped and counted, and a warning saying how many is written once the reader
// catches up.
import { write } from 'node:fs';

/** Bytes of log lines kept waiting for a slow reader before new lines are dropped. */
export const DEFAULT_QUEUE_BYTES = 1024 * 1024;
/** Bytes handed to one write(2). */
const CHUNK_BYTES = 64 * 1024;

export interface LogSinkOptions {
  fd?: number;
  maxQueueBytes?: number;
}

/** The line that reports drops, in the stream itself (pino's layout). */
function droppedLine(n: number): string {
  return `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), dropped: n, msg: 'log lines dropped: stderr was not read' })}\n`;
}

export class LogSink {
  private readonly fd: number;
  private readonly maxQueueBytes: number;
  private queue: Buffer[] = [];
  /** Bytes queued or being written: a write is in flight exactly when this is above 0. */
  private queuedBytes = 0;
  private dropped = 0;
  private failed = false;
  private waiters: Array<() => void> = [];

  constructor(opts: LogSinkOptions = {}) {
    this.fd = opts.fd ?? 2;
    this.maxQueueBytes = opts.maxQueueBytes ?? DEFAULT_QUEUE_BYTES;
  }

  /** pino's destination interface: one call per line. Never blocks, never throws. */
  write(line: string): boolean {
    if (this.failed) return true; // stderr is gone (EPIPE, EBADF): nothing to keep lines for
    const buf = Buffer.from(line, 'utf8');
    if (buf.length === 0) return true; // nothing to write (and queuedBytes stays a true "write in flight" sign)
    if (this.queuedBytes + buf.length > this.maxQueueBytes) {
      this.dropped++;
      return true;
    }
    const idle = this.queuedBytes === 0;
    this.queue.push(buf);
    this.queuedBytes += buf.length;
    if (idle) this.writeNext();
    return true;
  }

  /** Lines dropped so far and not yet reported. */
  get droppedLines(): number {
    return this.dropped;
  }

  /** Bytes waiting to be written. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /**
   * Resolves once every queued line is written, or after timeoutMs (a reader that stopped must not keep a process
   * from exiting). Call before process.exit, so that the last lines are not lost.
   */
  flush(timeoutMs = 2000): Promise<void> {
    if (this.queuedBytes === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private writeNext(): void {
    if (this.queue.length === 0) {
      if (this.dropped > 0 && !this.failed) {
        // The reader caught up: say what it missed, in the stream itself.
        const n = this.dropped;
        this.dropped = 0;
        const report = Buffer.from(droppedLine(n), 'utf8');
        this.queue.push(report);
        this.queuedBytes += report.length;
        return this.writeNext();
      }
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    while (this.queue.length > 0 && (size === 0 || size + this.queue[0]!.length <= CHUNK_BYTES)) {
      const b = this.queue.shift()!;
      parts.push(b);
      size += b.length;
    }
    const chunk = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    this.writeChunk(chunk);
  }

  private writeChunk(chunk: Buffer): void {
    write(this.fd, chunk, 0, chunk.length, null, (err, n) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EINTR') {
          // A non-blocking stderr that is full: try again shortly, off the event loop's back.
          setTimeout(() => this.writeChunk(chunk), 10).unref();
          return;
        }
        this.failed = true;
        this.queue = [];
        this.queuedBytes = 0;
        this.dropped = 0;
        for (const w of this.waiters.splice(0)) w();
        return;
      }
      this.queuedBytes -= n;
      if (n < chunk.length) return this.writeChunk(chunk.subarray(n));
      this.writeNext();
    });
  }
}
