// The agent's local control protocol (the Unix socket `<state dir>/agent.sock`, root only): one JSON request line,
// one JSON answer line, then the agent closes the connection. Versioned: `v` must be CONTROL_VERSION.
//
//   -> {"v":1,"op":"exec-target","task":"web.1","exec":{"argv":["sh"],"tty":false}}
//   <- {"v":1,"ok":true,"target":{"id":…,"name":"web.1","pid":1234,"pidStart":5678,"uid":1000,"gid":1000,"dir":"/","env":["K=V",…]}}
//   <- {"v":1,"ok":false,"error":"No such task: web.9"}
//
// The agent only names the process; the caller (root) enters its namespace itself, so that stdio, the terminal,
// signals and the exit code stay between the caller and the command, as with `docker exec`. A task that runs in a
// container is entered with `runc exec` instead (target.command, built from the request's exec): only runc puts the
// command under the container's own seccomp filter, capabilities and cgroup, as docker exec does.
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
  /** The command to run, so that the agent can build it for a task in a container (ExecTarget.command). */
  exec?: ExecCommandRequest;
}

export interface ExecCommandRequest {
  argv: string[];
  /** Numeric "uid[:gid]"; default: the task's user. */
  user?: string;
  /** Extra "K=V" entries over the task's environment. */
  env?: string[];
  workingDir?: string;
  tty: boolean;
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
  /** Set for a task in a container: the host command (runc exec) that runs the request's command inside it. */
  command?: { file: string; args: string[]; env?: Record<string, string> };
}

export type ControlAnswer = { v: number; ok: true; target: ExecTarget } | { v: number; ok: false; error: string };

export { processStartTime } from '../executor/proc-stat.js';

/** The request's exec fields as typed values; null when absent, an Error naming the bad field when malformed. */
export function parseExecCommandRequest(v: unknown): ExecCommandRequest | null | Error {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) return new Error('exec: expected an object');
  const o = v as Record<string, unknown>;
  const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((e) => typeof e === 'string');
  if (!strings(o.argv)) return new Error('exec.argv: expected a list of strings');
  if (o.user !== undefined && typeof o.user !== 'string') return new Error('exec.user: expected a string');
  if (o.env !== undefined && !strings(o.env)) return new Error('exec.env: expected a list of strings');
  if (o.workingDir !== undefined && typeof o.workingDir !== 'string') return new Error('exec.workingDir: expected a string');
  if (typeof o.tty !== 'boolean') return new Error('exec.tty: expected true or false');
  return {
    argv: o.argv,
    tty: o.tty,
    ...(o.user !== undefined ? { user: o.user } : {}),
    ...(o.env !== undefined ? { env: o.env } : {}),
    ...(o.workingDir !== undefined ? { workingDir: o.workingDir } : {}),
  };
}
