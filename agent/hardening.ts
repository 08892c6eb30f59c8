// Process hardening for the agent, which holds secret bytes in memory.
import { execFileSync } from 'node:child_process';
import type { Logger } from '../shared/log.js';
import { errorMessage } from '../shared/errors.js';

/**
 * No core dumps: a crash must not write the agent's memory (secret bytes) to disk. Node has no setrlimit, so
 * util-linux prlimit sets RLIMIT_CORE on our own pid. Run before mounting: no child may ever see /dev/fuse.
 */
export function disableCoreDumps(log: Logger): void {
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), '--core=0:0'], { stdio: 'ignore' });
    log.debug('core dumps disabled');
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'could not disable core dumps');
  }
}
