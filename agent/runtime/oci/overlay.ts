// A task's root: an overlay of its image's unpacked rootfs (read-only lower layer, shared by every task of that
// image) and the task's own writable layer, mounted on the host for runc to use as the bundle's root.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readMounts } from '../../executor/mount-plan.js';
import { isUnder } from '../../executor/spec.js';
import type { OciTools } from './host-tools.js';

const run = promisify(execFile);

export interface OverlayDirs {
  lower: string;
  upper: string;
  work: string;
  target: string;
}

/** overlayfs splits its options on "," and lowerdir on ":" */
function checkPath(p: string): string {
  if (/[,:\\\n]/.test(p)) throw new Error(`cannot use "${p}" in an overlay mount: it contains ",", ":", "\\" or a newline`);
  return p;
}

export async function mountOverlay(tools: OciTools, d: OverlayDirs): Promise<void> {
  const opts = `lowerdir=${checkPath(d.lower)},upperdir=${checkPath(d.upper)},workdir=${checkPath(d.work)}`;
  try {
    await run(tools.mount, ['-t', 'overlay', '-o', opts, 'overlay', d.target], { timeout: 30_000 });
  } catch (err) {
    throw new Error(`mounting the container's root failed: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`);
  }
}

/** Unmounts every mount at or below dir (deepest first); lazily when one is busy. The count unmounted. */
export async function unmountAllUnder(tools: OciTools, dir: string): Promise<number> {
  const points = (await readMounts()).map((m) => m.path).filter((p) => isUnder(p, dir, true));
  points.sort((a, b) => b.length - a.length);
  for (const p of [...new Set(points)]) {
    try {
      await run(tools.umount, [p], { timeout: 30_000 });
    } catch {
      await run(tools.umount, ['-l', p], { timeout: 30_000 }).catch(() => undefined);
    }
  }
  return points.length;
}
