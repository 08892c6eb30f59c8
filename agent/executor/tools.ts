// Absolute paths of the util-linux and coreutils programs the executor runs, found once on a fixed PATH, so that
// neither the agent's nor a task's PATH decides which binary runs as root.
import { DEFAULT_PATH } from './spec.js';
import { findProgram } from '../find-program.js';

export interface Tools {
  unshare: string;
  nsenter: string;
  setpriv: string;
  env: string;
  bash: string;
}

function which(name: string): string {
  const p = findProgram(name);
  if (p) return p;
  throw new Error(`executor needs ${name} in ${DEFAULT_PATH} (Debian packages util-linux, mount, coreutils, bash)`);
}

let cached: Tools | undefined;

export function findTools(): Tools {
  cached ??= {
    unshare: which('unshare'),
    nsenter: which('nsenter'),
    setpriv: which('setpriv'),
    env: which('env'),
    bash: which('bash'),
  };
  // mount, umount, mkdir, touch, chmod and chown are run by the launcher through its fixed PATH; check them here
  // so that a missing one fails at start-up rather than inside a task.
  for (const t of ['mount', 'umount', 'mountpoint', 'mkdir', 'touch', 'chmod', 'chown']) which(t);
  return cached;
}
