// A crashed agent can leave a dead FUSE mount ("Transport endpoint is not connected"): clear it before mounting.
// A mount that still answers belongs to a live process: refuse, rather than pull it from under its readers.
import { stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from '../../shared/log.js';
import { mountAt } from './mountinfo.js';

const execFileP = promisify(execFile);

/** Does the mount answer a stat within ms? (Asynchronous: a hung mount only ties up one pool thread.) */
async function answers(path: string, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), ms)));
  try {
    return (await Promise.race([stat(path).then(() => 'ok' as const), timeout])) === 'ok';
  } catch {
    return false; // ENOTCONN and friends: dead
  } finally {
    clearTimeout(timer);
  }
}

export async function clearStaleMount(path: string, log: Logger): Promise<void> {
  const entry = mountAt(path);
  if (!entry) return;
  if (!entry.type.startsWith('fuse')) throw new Error(`${path} already has a ${entry.type} filesystem mounted on it`);
  if (await answers(path, 2000)) throw new Error(`${path} is already served by a running FUSE filesystem (another agent?)`);
  log.warn({ mount: path, type: entry.type }, 'clearing a stale mount left by a crashed agent');
  await execFileP('umount', ['-l', path]);
}
