// Tasks run in their own PID namespaces, so `$$` inside one is a small number that other tasks share and that names
// nothing on the host. Scripts that need a name unique to their task use its PID namespace's inode instead.
import { readdirSync, readlinkSync } from 'node:fs';

/** Shell words that set $i to the task's PID namespace inode (a number unique among live tasks). */
export const TASK_NS_ID = 'i=$(readlink /proc/self/ns/pid | tr -dc 0-9)';

/** Whether any process still lives in the PID namespace with this inode (what TASK_NS_ID gave). */
export function pidNsAlive(id: string | number | null): boolean {
  if (id === null) return false;
  const want = `pid:[${id}]`;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) === want) return true;
    } catch {
      /* gone */
    }
  }
  return false;
}
