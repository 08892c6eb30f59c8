// Byte streams over the agent's session (protocol.ts StreamMessage): the manager opens one per forwarded Engine
// API connection (docker exec/logs through the manager) and the agent serves it in-process. Each side may have at
// most TUNNEL_WINDOW_BYTES sent and not yet acknowledged per stream; the receiver acknowledges what its reader has
// taken, so a slow reader (a paused `docker logs -f`) holds the writer back instead of filling memory.
import { Duplex } from 'node:stream';
import { TUNNEL_CHUNK_BYTES, type StreamMessage } from './protocol.js';

export const TUNNEL_WINDOW_BYTES = 256 * 1024;
/** Open streams per session (each side): a flood of opens is refused with a reset. */
export const MAX_OPEN_STREAMS = 64;

export class TunnelStream extends Duplex {
  private inflight = 0;
  private waiting: (() => void) | null = null;
  /** Bytes pushed to our reader and not yet acknowledged to the peer. */
  private unacked = 0;
  private remoteClosed = false;

  constructor(
    private readonly mux: TunnelMux,
    readonly id: number,
  ) {
    super({ allowHalfOpen: true });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    let off = 0;
    const next = (): void => {
      if (this.destroyed) return cb(new Error('tunnel stream closed'));
      while (off < chunk.length) {
        if (this.inflight >= TUNNEL_WINDOW_BYTES) {
          this.waiting = next;
          return;
        }
        const piece = chunk.subarray(off, off + TUNNEL_CHUNK_BYTES);
        off += piece.length;
        this.inflight += piece.length;
        if (!this.mux.send({ type: 'stream-data', stream: this.id, data: piece })) return cb(new Error('the session is gone'));
      }
      cb();
    };
    next();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.mux.send({ type: 'stream-end', stream: this.id });
    cb();
  }

  override _read(): void {
    this.ack();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    if (!this.remoteClosed) this.mux.send({ type: 'stream-reset', stream: this.id, ...(err ? { reason: err.message.slice(0, 200) } : {}) });
    this.mux.forget(this.id);
    const w = this.waiting;
    this.waiting = null;
    w?.();
    cb(err);
  }

  /** From the mux: the peer's messages for this stream. */
  receive(m: StreamMessage): void {
    if (m.type === 'stream-data') {
      // An honest peer never has more than the window unacknowledged: one that sends past it (a compromised agent
      // filling the manager's memory through a paused reader) loses the stream.
      if (this.unacked + m.data.length > TUNNEL_WINDOW_BYTES) {
        this.destroy(new Error('the peer sent past the flow-control window'));
        return;
      }
      this.unacked += m.data.length;
      // A copy: the frame is the session's, zeroed once handled.
      if (this.push(Buffer.from(m.data))) this.ack();
    } else if (m.type === 'stream-end') this.push(null);
    else if (m.type === 'stream-ack') {
      this.inflight = Math.max(0, this.inflight - m.bytes);
      const w = this.waiting;
      this.waiting = null;
      w?.();
    } else {
      this.remoteClosed = true;
      this.destroy(m.reason ? new Error(`tunnel stream reset by the peer: ${m.reason}`) : undefined);
    }
  }

  /** The session is gone: the stream ends with an error, nothing is sent. */
  abort(why: string): void {
    this.remoteClosed = true;
    this.destroy(new Error(why));
  }

  private ack(): void {
    if (this.unacked === 0 || this.destroyed) return;
    const bytes = this.unacked;
    this.unacked = 0;
    this.mux.send({ type: 'stream-ack', stream: this.id, bytes });
  }
}

export interface TunnelMuxOptions {
  /** Sends one message on the session; false when it is not connected. */
  send(m: StreamMessage): boolean;
  maxStreams?: number;
}

export class TunnelMux {
  private readonly streams = new Map<number, TunnelStream>();
  private nextId = 1;
  private readonly max: number;

  constructor(private readonly o: TunnelMuxOptions) {
    this.max = o.maxStreams ?? MAX_OPEN_STREAMS;
  }

  get size(): number {
    return this.streams.size;
  }

  send(m: StreamMessage): boolean {
    return this.o.send(m);
  }

  /** The opener's side (the manager): a new stream; null when this session has too many open. */
  open(): TunnelStream | null {
    if (this.streams.size >= this.max) return null;
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    const s = new TunnelStream(this, id);
    this.streams.set(id, s);
    return s;
  }

  /** The accepting side (the agent): the peer opened stream `id`; null (and a reset sent) when refused. */
  accept(id: number): TunnelStream | null {
    if (this.streams.has(id) || this.streams.size >= this.max) {
      this.o.send({ type: 'stream-reset', stream: id, reason: this.streams.has(id) ? 'stream ID in use' : 'too many open streams' });
      return null;
    }
    const s = new TunnelStream(this, id);
    this.streams.set(id, s);
    return s;
  }

  /** A message from the peer; one for an unknown stream is dropped (it was reset meanwhile). */
  receive(m: StreamMessage): void {
    this.streams.get(m.stream)?.receive(m);
  }

  forget(id: number): void {
    this.streams.delete(id);
  }

  /** The session ended: every stream fails. */
  closeAll(why: string): void {
    for (const s of [...this.streams.values()]) s.abort(why);
    this.streams.clear();
  }
}
