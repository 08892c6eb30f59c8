// Secret bytes live only in Buffers we allocated ourselves (never the shared pool), and every wipe overwrites them.

/** A zero-filled Buffer of our own (Buffer.alloc never takes a slice of Node's shared pool), holding a copy of src. */
export function ownedCopy(src: Uint8Array): Buffer {
  const buf = Buffer.alloc(src.length);
  buf.set(src);
  return buf;
}

/** Overwrites every byte with zero. */
export function wipe(buf: Uint8Array): void {
  buf.fill(0);
}

export function isWiped(buf: Uint8Array): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}
