// Zeroes what the TLS socket read for the session once ws is done with it. A message that spans several socket
// reads is copied by ws into one new Buffer (ours to zero), and the reads themselves are dropped as they are:
// their memory, freed by the next GC, keeps the secret bytes until malloc hands it out again (seen in
// test/reliability/worker-bytes.test.ts: the tail of a 400 KiB secret in a freed 592-byte chunk after revoke).
// A read is zeroed only when nothing can still point into it: ws holds no unparsed bytes (they could be the start
// of the next message), and every frame handed to the owner has been handled (a message within one read is a
// view into it, not a copy).
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** ws's own fields we rely on (ws 8): the socket under the session and the parser's count of unparsed bytes. */
interface WsInternals {
  _socket?: Duplex | null;
  _receiver?: { _bufferedBytes?: unknown; _allowSynchronousEvents?: unknown } | null;
}

export class ReadScrubber {
  private readonly reads: Buffer[] = [];
  private inFlight = 0;
  private closed = false;
  private active = false;
  private ws: WsInternals | null = null;

  /** Call from the 'open' handler: starts collecting the socket's reads (if ws looks as expected). */
  attach(ws: WebSocket): void {
    const w = ws as unknown as WsInternals;
    // Another ws, or messages emitted later than their read is parsed (a message could then be a view into a read
    // we would zero before it is handled): leave it be.
    if (!w._socket || typeof w._receiver?._bufferedBytes !== 'number' || w._receiver._allowSynchronousEvents !== true) return;
    this.active = true;
    // Added after ws's own 'data' listener: ws has parsed the read (synchronously) when this runs.
    w._socket.on('data', (chunk: Buffer) => {
      this.reads.push(chunk);
      this.scrub(w);
    });
    ws.once('close', () => {
      this.closed = true;
      this.scrub(w);
    });
    this.ws = w;
  }

  /** A frame was handed to the owner. */
  frameStarted(): void {
    this.inFlight++;
  }

  /** The owner is done with a frame (and zeroed it). */
  frameDone(): void {
    this.inFlight--;
    if (this.ws) this.scrub(this.ws);
  }

  private scrub(w: WsInternals): void {
    if (!this.active || this.inFlight > 0) return;
    if (!this.closed && w._receiver?._bufferedBytes !== 0) return;
    for (const r of this.reads) r.fill(0);
    this.reads.length = 0;
  }
}
