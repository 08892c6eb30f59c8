// One daemon per state dir: a pid file created exclusively. A file left by a dead process is taken over.
// The manager holds manager.pid, the agent agent.pid; a second one on the same dir is refused before it touches
// anything (an agent that started anyway would kill the first one's tasks as "left by a previous life").
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const MANAGER_PID_FILE = 'manager.pid';
export const AGENT_PID_FILE = 'agent.pid';

/** Thrown when another live process holds the lock; exit code 1 from the CLI, with this message. */
export class PidLockedError extends Error {
  constructor(
    readonly pid: number,
    who: string,
    stateDir: string,
  ) {
    super(`another ${who} (pid ${pid}) is running on ${stateDir}`);
    this.name = 'PidLockedError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes <stateDir>/<file> for this process; returns the release function. `who` names the daemon in the error. */
export function acquirePidLock(stateDir: string, file = MANAGER_PID_FILE, who = 'manager'): () => void {
  const path = join(stateDir, file);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new PidLockedError(pid, who, stateDir);
      unlinkSync(path); // stale: its process is gone
    }
  }
  throw new Error(`cannot take ${path}`);
}
