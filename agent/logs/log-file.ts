// One task's log as Docker's json-file driver keeps it: FILE (the current one) and FILE.1 … FILE.N-1 (older), one
// JSON object per line ({"log","stream","time"}), rotated when the next line would take FILE past maxSize.
// Writes are synchronous: a line is on disk (and its readers told) before the next chunk is taken, so a reader
// that reads the files and subscribes in the same tick misses nothing and sees nothing twice.
import { closeSync, existsSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

export interface Rotation {
  /** Bytes per file before it is rotated (Docker's max-size). */
  maxSize: number;
  /** Files kept, the current one included (Docker's max-file). */
  maxFile: number;
}

/** A log's files oldest first (the rotated ones that exist, then the current one). */
export function logFiles(path: string, maxFile: number): string[] {
  const out: string[] = [];
  for (let i = maxFile - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) out.push(`${path}.${i}`);
  out.push(path);
  return out;
}

export class LogFile {
  private fd: number;
  private size: number;

  constructor(
    readonly path: string,
    private readonly rotation: Rotation,
  ) {
    this.fd = openSync(path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }


  append(line: Buffer): void {
    if (this.size > 0 && this.size + line.length > this.rotation.maxSize) this.rotate();
    writeSync(this.fd, line);
    this.size += line.length;
  }

  private rotate(): void {
    closeSync(this.fd);
    if (this.rotation.maxFile <= 1) rmSync(this.path, { force: true });
    else {
      rmSync(`${this.path}.${this.rotation.maxFile - 1}`, { force: true });
      for (let i = this.rotation.maxFile - 2; i >= 1; i--) if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      renameSync(this.path, `${this.path}.1`);
    }
    this.fd = openSync(this.path, 'w', 0o600);
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}
