// Paths inside a container's root, looked up the way the container will see them: every component is resolved
// inside the root (a symlink's target, absolute or relative, is read as the container reads it), so that creating
// a mount point can never touch the host through a symlink in the image. A path that climbs above the root is
// refused rather than clamped: an image that tries it is broken or hostile.
import { constants } from 'node:fs';
import { lstat, mkdir, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';

const MAX_LINKS = 40; // the kernel's limit for one lookup

export class RootfsPathError extends Error {
  override name = 'RootfsPathError';
}

export interface Resolved {
  /** Components that exist, none a symlink (the last may be a file). */
  existing: string[];
  /** What is left once a component is missing (empty when the whole path exists). */
  missing: string[];
}

function split(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/** Resolves path (absolute, in the container) inside root; throws RootfsPathError (its message says why, not
 * which path) when it leaves the root. */
export async function resolveInRoot(root: string, path: string): Promise<Resolved> {
  const queue = split(path);
  const existing: string[] = [];
  let links = 0;
  while (queue.length > 0) {
    const c = queue.shift()!;
    if (c === '..') {
      if (existing.length === 0) throw new RootfsPathError(`it leads outside the container's root`);
      existing.pop();
      continue;
    }
    let st;
    try {
      st = await lstat(join(root, ...existing, c));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const missing = [c, ...queue];
      if (missing.includes('..')) throw new RootfsPathError(`".." after a missing folder`);
      return { existing, missing };
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new RootfsPathError(`too many levels of symbolic links`);
      const target = await readlink(join(root, ...existing, c));
      if (target.startsWith('/')) existing.length = 0;
      queue.unshift(...split(target));
      continue;
    }
    if (queue.length > 0 && !st.isDirectory()) {
      throw new RootfsPathError(`"/${[...existing, c].join('/')}" is not a folder`);
    }
    existing.push(c);
  }
  return { existing, missing: [] };
}

/**
 * Makes sure an empty mount point exists at path inside root, creating missing parent folders and the last
 * component (an empty file, or a folder) in the root itself: for an overlay root, in the container's writable
 * layer. Returns the container path with every symlink resolved, which is what the mount must name.
 */
export async function ensureMountpoint(root: string, path: string, kind: 'file' | 'dir'): Promise<string> {
  const r = await resolveInRoot(root, path);
  const parts = [...r.existing];
  if (r.missing.length === 0) {
    if (parts.length === 0) throw new RootfsPathError(`cannot mount over the container's root`);
    const st = await lstat(join(root, ...parts));
    if (kind === 'file' && st.isDirectory()) throw new RootfsPathError(`it is a folder in the image, a file is needed`);
    if (kind === 'dir' && !st.isDirectory()) throw new RootfsPathError(`it is not a folder in the image`);
    return '/' + parts.join('/');
  }
  for (let i = 0; i < r.missing.length; i++) {
    parts.push(r.missing[i]!);
    const host = join(root, ...parts);
    const last = i === r.missing.length - 1;
    if (!last || kind === 'dir') {
      await mkdir(host, { mode: 0o755 });
    } else {
      // O_EXCL|O_NOFOLLOW: a new, empty, regular file, never one reached through a link.
      const fh = await open(host, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o644);
      await fh.close();
    }
  }
  return '/' + parts.join('/');
}

/** A file of the container read as the container would (symlinks inside root), or null when it has none. */
export async function readFileInRoot(root: string, path: string): Promise<Buffer | null> {
  const r = await resolveInRoot(root, path);
  if (r.missing.length > 0) return null;
  const fh = await open(join(root, ...r.existing), constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

