// Scans a live process's memory (/proc/PID/mem, as root) for a byte string: how many copies, and in which
// mappings. Used to prove that secret bytes are gone from an agent after a revoke.
import { readFileSync, openSync, readSync, closeSync } from 'node:fs';

export interface MemHit {
  /** Address of the copy. */
  addr: number;
  /** The mapping it lies in, as /proc/PID/maps names it ('' for anonymous memory: malloc arenas, V8 heap). */
  region: string;
  /** The mapping's start and size. */
  regionStart: number;
  regionSize: number;
}

/** Every copy of marker in the readable memory of pid, with the mapping each lies in. */
export function findInMemory(pid: number, marker: Buffer): MemHit[] {
  const hits: MemHit[] = [];
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (!m || m[3]![0] !== 'r' || m[4] === '[vvar]' || m[4] === '[vsyscall]') continue;
      const start = parseInt(m[1]!, 16);
      const len = parseInt(m[2]!, 16) - start;
      const chunk = Buffer.alloc(Math.min(len, 64 << 20));
      // Chunks overlap by marker.length - 1 bytes; a hit belongs to the chunk where it starts before the overlap.
      const step = chunk.length - marker.length + 1;
      for (let off = 0; off < len; off += step) {
        let n: number;
        try {
          n = readSync(fd, chunk, 0, Math.min(chunk.length, len - off), start + off);
        } catch {
          break; // unreadable region (guard pages and the like)
        }
        const last = off + step >= len;
        const view = chunk.subarray(0, n);
        for (let i = view.indexOf(marker); i >= 0; i = view.indexOf(marker, i + 1)) {
          if (last || i < step) hits.push({ addr: start + off + i, region: m[4] ?? '', regionStart: start, regionSize: len });
        }
        if (n === 0) break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return hits;
}

/** Counts occurrences of marker in the readable memory of pid. */
export function countInMemory(pid: number, marker: Buffer): number {
  return findInMemory(pid, marker).length;
}

/** One line per hit, for a test's diagnostics: address, mapping name (or "anon") and mapping size. */
export function describeHits(hits: MemHit[]): string {
  return hits
    .map((h) => `0x${h.addr.toString(16)} in ${h.region || 'anon'} [0x${h.regionStart.toString(16)} +${(h.regionSize / 1024).toFixed(0)} KiB]`)
    .join('; ');
}
