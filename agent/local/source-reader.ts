// Reads a manifest's source files into Buffers the agent owns (Buffer.alloc, never Node's shared pool).
import { open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { maxPayloadSize, payloadSizeError } from '../../shared/limits.js';
import { wipe } from '../secretstore/bytes.js';
import { ManifestError, type FileRef } from './manifest.js';

async function readOwned(ref: FileRef): Promise<Buffer> {
  const max = maxPayloadSize(ref.kind);
  let fh;
  try {
    fh = await open(ref.source, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ManifestError(`${ref.kind} source ${ref.source}: ${code === 'ENOENT' ? 'no such file' : code ?? 'cannot open'}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ManifestError(`${ref.kind} source ${ref.source}: not a regular file`);
    const sizeErr = payloadSizeError(ref.kind, st.size);
    if (sizeErr) throw new ManifestError(`${ref.kind} source ${ref.source} (${st.size} bytes): ${sizeErr}`);
    // One byte of headroom tells us if the file grew while we read it.
    const buf = Buffer.alloc(Math.min(st.size + 1, max));
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) break;
    }
    if (got !== st.size) {
      wipe(buf);
      throw new ManifestError(`${ref.kind} source ${ref.source}: changed while being read`);
    }
    const data = buf.subarray(0, got);
    // subarray shares memory: copy into an exact-size Buffer so the whole allocation can be wiped later.
    const exact = Buffer.alloc(got);
    data.copy(exact);
    wipe(buf);
    return exact;
  } finally {
    await fh.close();
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
