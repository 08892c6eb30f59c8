// The last few KiB of a task's stdout or stderr, for status messages and later logs. Contents are never logged.
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(private readonly limit = 8192) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    // Compact only when well over the limit, so a chatty task costs one copy per `limit` bytes, not per chunk.
    if (this.size > this.limit * 2) this.compact();
  }

  private compact(): void {
    const all = Buffer.concat(this.chunks);
    const keep = all.subarray(Math.max(0, all.length - this.limit));
    this.dropped += all.length - keep.length;
    this.chunks = [Buffer.from(keep)];
    this.size = keep.length;
  }

  /** A copy of the last `limit` bytes. */
  read(): Buffer {
    const all = Buffer.concat(this.chunks);
    return Buffer.from(all.subarray(Math.max(0, all.length - this.limit)));
  }

  /** Bytes seen in all (kept or not). */
  get total(): number {
    return this.dropped + this.size;
  }
}
