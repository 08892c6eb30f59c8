// Where a program the agent runs as root lives, looked up on a fixed PATH (never the agent's or a task's PATH, so
// neither decides which binary runs as root).
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PATH } from './executor/spec.js';

/** The program's absolute path in the first folder of `path` (default: DEFAULT_PATH) that has it, or null. */
export function findProgram(name: string, path = DEFAULT_PATH): string | null {
  for (const dir of path.split(':')) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next folder */
    }
  }
  return null;
}
