// The agent's local control protocol (the Unix socket `<state dir>/agent.sock`, root only): one JSON request line,
// one JSON answer line, then the agent closes the connection. Versioned: `v` must be CONTROL_VERSION.
//
//   -> {"v":1,"op":"exec-target","task":"web.1"}
//   <- {"v":1,"ok":true,"target":{"id":…,"name":"web.1","pid":1234,"pidStart":5678,"uid":1000,"gid":1000,"dir":"/","env":["K=V",…]}}
//   <- {"v":1,"ok":false,"error":"No such task: web.9"}
//
// The agent only names the process; the caller (root) enters its namespace itself, so that stdio, the terminal,
// signals and the exit code stay between the caller and the command, as with `docker exec`.
import { join } from 'node:path';

export const CONTROL_VERSION = 1;
export const CONTROL_SOCKET_NAME = 'agent.sock';
/** A request line longer than this is refused (requests are a task name and a few words). */
export const MAX_REQUEST_BYTES = 64 * 1024;

export function defaultControlSocket(stateDir: string): string {
  return join(stateDir, CONTROL_SOCKET_NAME);
}

export interface ExecTargetRequest {
  v: number;
  op: 'exec-target';
  task: string;
}

/** What it takes to run a command in a running task as `docker exec` does. */
export interface ExecTarget {
  id: string;
  /** The task's name as `service ps` shows it: SERVICE.SLOT, or SERVICE.NODEID for a global service's task. */
  name: string;
  pid: number;
  /** The process's start time (field 22 of /proc/PID/stat, clock ticks since boot): guards against pid reuse. */
  pidStart: number;
  uid: number;
  gid: number;
  dir: string;
  env: string[];
}

export type ControlAnswer = { v: number; ok: true; target: ExecTarget } | { v: number; ok: false; error: string };

export { processStartTime } from '../executor/proc-stat.js';
