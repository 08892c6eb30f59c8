// One version of one file's bytes, in a Buffer the agent allocated. Wiped (zeroed) once, for good.
import { wipe } from './bytes.js';

export class Content {
  private wipedFlag = false;

  constructor(private readonly buf: Buffer) {}

  get size(): number {
    return this.buf.length;
  }

  get wiped(): boolean {
    return this.wipedFlag;
  }

  /** Copies nothing: the slice of our Buffer to hand to the kernel, or null once wiped. */
  slice(offset: number, len: number): Buffer | null {
    if (this.wipedFlag) return null;
    if (offset >= this.buf.length) return this.buf.subarray(0, 0);
    return this.buf.subarray(offset, Math.min(this.buf.length, offset + len));
  }

  equals(other: Uint8Array): boolean {
    return !this.wipedFlag && this.buf.equals(other);
  }

  wipe(): void {
    if (this.wipedFlag) return;
    wipe(this.buf);
    this.wipedFlag = true;
  }

  /** For tests: the backing store, to check that it was zeroed. */
  get bufferForTest(): Buffer {
    return this.buf;
  }
}
