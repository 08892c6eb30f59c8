// The running task a `task exec` argument names, among this node's tasks, as the control socket answers it: the
// caller enters the task's namespaces itself (agent/control/protocol.ts).
import { processStartTime, type ExecTarget } from '../control/protocol.js';
import { resolveTask, taskName } from '../control/resolve-task.js';
import { parseUser } from '../executor/spec.js';
import type { TaskRuntime } from '../runtime/runtime.js';
import type { LocalTask } from './task-table.js';

export function execTarget(query: string, tasks: readonly LocalTask[], runtime: TaskRuntime, nodeId: string): ExecTarget {
  const known = tasks.map((t) => ({ id: t.a.id, serviceName: t.a.serviceName, slot: t.a.slot, wanted: t.a.desiredState === 'running' && !t.finished }));
  const k = resolveTask(query, known, nodeId);
  const name = taskName(k, nodeId);
  const st = runtime.status(k.id);
  const info = runtime.inspect(k.id);
  if (st?.state !== 'running' || info?.pid === undefined) throw new Error(`task ${k.id} (${name}) is not running (state ${st?.state ?? 'not started yet'})`);
  let who: { uid: number; gid: number };
  try {
    who = parseUser(info.user);
  } catch {
    throw new Error(`task ${k.id} (${name}) runs as "${info.user}": use docker exec for it (task exec takes numeric users only)`);
  }
  const pidStart = processStartTime(info.pid);
  if (pidStart === null) throw new Error(`task ${k.id} (${name}) is not running (its process ${info.pid} is gone)`);
  return { id: k.id, name, pid: info.pid, pidStart, uid: who.uid, gid: who.gid, dir: info.workingDir, env: info.env };
}
