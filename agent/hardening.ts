// Process hardening for the agent, which holds secret bytes in memory.
import { execFileSync } from 'node:child_process';
import v8 from 'node:v8';
import vm from 'node:vm';
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

/**
 * After an assignment that brought or dropped secret bytes (coalesced: many assignments, one run): overwrite the
 * stack where Node decrypts TLS records (burnStack). Measured in test/reliability/worker-bytes.test.ts: without it
 * the last received secret stays on the main thread's stack until deeper calls overwrite it.
 */
export function stackScrubber(log: Logger): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      burnStack();
      log.trace('stack scrubbed after secret bytes changed');
    });
  };
}

/**
 * SIGUSR2: a full garbage collection, for memory scans that want a settled heap. Not run after
 * every revoke: a GC frees unreferenced buffers but does not zero their memory, so it clears no secret bytes (what
 * clears them is our zeroing: tree, objects, frames, the socket's reads in session/read-scrub.ts); measured in
 * worker-bytes.test.ts, it changed no count, and it cost 16 ms a run under the load test.
 * V8 exposes gc() only with --expose-gc; setting the flag at run time makes it available in a new context.
 */
export function gcOnSignal(log: Logger): void {
  let gc: (() => void) | null = null;
  try {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'no forced GC: V8 did not expose gc()');
    return;
  }
  process.on('SIGUSR2', () => {
    const t0 = process.hrtime.bigint();
    gc!();
    log.info({ ms: Number(process.hrtime.bigint() - t0) / 1e6 }, 'forced GC (SIGUSR2)');
  });
}

/**
 * Overwrites the main thread's stack below us with zeros (as libgcrypt's burn_stack does). Node decrypts TLS
 * records into a 16 KiB array on the stack (TLSWrap::ClearOut), where received secret bytes stay until deeper
 * calls overwrite them. Arguments are always pushed on the machine stack, in every V8 tier: a recursion with many
 * zero (Smi 0: all zero bits) arguments overwrites the frames it goes through with zeros and return addresses.
 */
function burnStack(): void {
  burnFrames(BURN_DEPTH, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}
/** About 300 bytes a frame: 1,000 frames cover 300 KiB, far beyond the event loop's depth, far below the limit. */
const BURN_DEPTH = 1000;
function burnFrames(n: number, ...z: number[]): number {
  return n <= 0 ? z.length : burnFrames(n - 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) + 1;
}
