// Reading /proc/self/mountinfo: what is mounted at a path, without touching the path itself (a dead or our own
// FUSE mount must never be stat'ed synchronously from the agent).
import { readFileSync } from 'node:fs';

export interface MountEntry {
  /** "major:minor" of the mounted filesystem. */
  majMin: string;
  type: string;
  options: string[];
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Every mount point (decoded paths). */
export function mountPoints(): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const p = line.split(' ')[4];
    if (p !== undefined) out.add(unescape(p));
  }
  return out;
}

/** The topmost mount exactly at path, or null. */
export function mountAt(path: string): MountEntry | null {
  let found: MountEntry | null = null;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    if (f[4] !== undefined && unescape(f[4]) === path) {
      found = { majMin: f[2] ?? '', type: right.split(' ')[0] ?? '', options: (f[5] ?? '').split(',') };
    }
  }
  return found;
}
