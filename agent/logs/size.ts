// Docker's log-opt sizes (max-size=10m): a number with an optional unit k, m or g (powers of 1024, as go-units'
// RAMInBytes), case-insensitive, with an optional trailing "b".
export function parseLogSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(s.trim());
  if (!m) throw new Error(`invalid size "${s}": expected a number with an optional unit k, m or g (e.g. 10m)`);
  const n = Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase());
  if (!Number.isFinite(n) || n < 1) throw new Error(`invalid size "${s}": must be at least 1 byte`);
  return Math.floor(n);
}

export function parseLogFileCount(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`invalid max-file "${s}": expected a whole number of at least 1`);
  return n;
}
