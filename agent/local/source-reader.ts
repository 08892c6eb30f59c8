// Reads a manifest's source files into Buffers the agent owns (Buffer.alloc, never Node's shared pool).
import { open, fstat, read, close, constants } from 'node:fs';
import { promisify } from 'node:util';
import { payloadSizeError } from '../../shared/limits.js';
import { wipe } from '../secretstore/bytes.js';
import { ManifestError, type FileRef } from './manifest.js';

const openP = promisify(open);
const fstatP = promisify(fstat);
const readP = promisify(read);
const closeP = promisify(close);

/** One byte past the end: only ever holds a byte of a file that grew while we read it, and is wiped then. */
const PROBE = Buffer.alloc(1);

async function readAll(fd: number, buf: Buffer): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead: n } = await readP(fd, buf, got, buf.length - got, got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

async function readOwned(ref: FileRef): Promise<Buffer> {
  let fd: number;
  try {
    fd = await openP(ref.source, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ManifestError(`${ref.kind} source ${ref.source}: ${code === 'ENOENT' ? 'no such file' : code ?? 'cannot open'}`);
  }
  try {
    const st = await fstatP(fd);
    if (!st.isFile()) throw new ManifestError(`${ref.kind} source ${ref.source}: not a regular file`);
    const sizeErr = payloadSizeError(ref.kind, st.size);
    if (sizeErr) throw new ManifestError(`${ref.kind} source ${ref.source} (${st.size} bytes): ${sizeErr}`);
    // Read straight into an exact-size Buffer of our own; one more byte tells us if the file grew meanwhile.
    const buf = Buffer.alloc(st.size);
    const got = await readAll(fd, buf);
    const { bytesRead: more } = await readP(fd, PROBE, 0, 1, st.size);
    if (got !== st.size || more !== 0) {
      wipe(buf);
      wipe(PROBE);
      throw new ManifestError(`${ref.kind} source ${ref.source}: changed while being read`);
    }
    return buf;
  } finally {
    await closeP(fd);
  }
}

/** Reads every source; on any failure, wipes what was already read and rethrows. */
export async function readSources(refs: FileRef[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  try {
    for (const ref of refs) out.push(await readOwned(ref));
    return out;
  } catch (err) {
    for (const b of out) wipe(b);
    throw err;
  }
}
