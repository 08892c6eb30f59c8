// The running task a `task exec` argument names, among this node's tasks, as the control socket answers it: the
// caller enters the task's namespaces itself, or for a container runs the runc exec given (agent/control/protocol.ts).
import { processStartTime, type ExecCommandRequest, type ExecTarget } from '../control/protocol.js';
import { resolveTask, taskName } from '../control/resolve-task.js';
import { parseUser } from '../executor/spec.js';
import type { TaskRuntime } from '../runtime/runtime.js';
import type { LocalTask } from './task-table.js';

export function execTarget(query: string, tasks: readonly LocalTask[], runtime: TaskRuntime, nodeId: string, exec: ExecCommandRequest | null = null): ExecTarget {
  const known = tasks.map((t) => ({ id: t.a.id, serviceName: t.a.serviceName, slot: t.a.slot, wanted: t.a.desiredState === 'running' && !t.finished }));
  const k = resolveTask(query, known, nodeId);
  const name = taskName(k, nodeId);
  const st = runtime.status(k.id);
  const info = runtime.inspect(k.id);
  if (st?.state !== 'running' || info?.pid === undefined) throw new Error(`task ${k.id} (${name}) is not running (state ${st?.state ?? 'not started yet'})`);
  const pidStart = processStartTime(info.pid);
  if (pidStart === null) throw new Error(`task ${k.id} (${name}) is not running (its process ${info.pid} is gone)`);
  if (runtime.name === 'oci') {
    // Named users ("redis") are resolved by runc in the container's own passwd: no uid needed here.
    if (exec === null) throw new Error(`task ${k.id} (${name}) runs in a container: this runsecrets is older than the agent, update it`);
    const command = runtime.execCommand(k.id, exec);
    return { id: k.id, name, pid: info.pid, pidStart, uid: 0, gid: 0, dir: exec.workingDir ?? info.workingDir, env: [], command };
  }
  let who: { uid: number; gid: number };
  try {
    who = parseUser(info.user);
  } catch {
    throw new Error(`task ${k.id} (${name}) runs as "${info.user}": use docker exec for it (task exec takes numeric users only)`);
  }
  return { id: k.id, name, pid: info.pid, pidStart, uid: who.uid, gid: who.gid, dir: info.workingDir, env: info.env };
}
