// One version of one file's bytes. Readers that opened it keep it alive; it is zeroed when it is revoked, or when
// it was replaced and its last reader closes, so that a reader never sees a mix of two versions.
import { wipe } from './bytes.js';

export class Content {
  private refs = 0;
  private retired = false;
  private wipedFlag = false;

  constructor(private readonly buf: Buffer) {}

  get size(): number {
    return this.buf.length;
  }

  get wiped(): boolean {
    return this.wipedFlag;
  }

  /** Copies up to `len` bytes from `offset` into `dst`; returns the count, or -1 when the bytes were wiped. */
  readInto(dst: Buffer, len: number, offset: number): number {
    if (this.wipedFlag) return -1;
    if (offset >= this.buf.length) return 0;
    const end = Math.min(this.buf.length, offset + len);
    return this.buf.copy(dst, 0, offset, end);
  }

  equals(other: Uint8Array): boolean {
    return !this.wipedFlag && this.buf.equals(other);
  }

  acquire(): void {
    this.refs++;
  }

  release(): void {
    if (this.refs > 0) this.refs--;
    if (this.refs === 0 && this.retired) this.wipe();
  }

  /** A newer version replaced this one: wipe now if nobody reads it, else when the last reader closes. */
  retire(): void {
    this.retired = true;
    if (this.refs === 0) this.wipe();
  }

  /** Revoked: wipe now, whoever still holds it open. */
  wipe(): void {
    this.retired = true;
    if (this.wipedFlag) return;
    wipe(this.buf);
    this.wipedFlag = true;
  }

  /** For tests: the backing store, to check that it was zeroed. */
  get bufferForTest(): Buffer {
    return this.buf;
  }
}
