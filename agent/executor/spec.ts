// A task as the executor sees it, and its validation into what the launcher needs. Docker's words and texts.
import { readFileSync } from 'node:fs';
import { isAbsolute, normalize } from 'node:path';

/** Docker's task states (swarmkit api/types.proto), in their order; the executor reports those from preparing on. */
export type TaskState =
  | 'new' | 'pending' | 'assigned' | 'accepted' | 'preparing' | 'ready' | 'starting' | 'running'
  | 'complete' | 'shutdown' | 'failed' | 'rejected' | 'remove' | 'orphaned';

export const FINAL_STATES: ReadonlySet<TaskState> = new Set(['complete', 'shutdown', 'failed', 'rejected']);

export interface AbsoluteMount {
  /** A file inside secretsDir or filesDir (absolute, or relative to secretsDir). */
  source: string;
  /** An absolute path inside the task. */
  target: string;
}

export interface TaskSpec {
  id: string;
  /** Docker's ContainerSpec.Command (the entrypoint). */
  command?: string[];
  /** Docker's ContainerSpec.Args. */
  args?: string[];
  /** "K=V" entries. */
  env?: string[];
  /** Working folder inside the task; default "/". */
  dir?: string;
  /** Numeric "uid[:gid]"; default 0:0. */
  user?: string;
  /** The task's folder on the secrets mount, e.g. /run/secrets/<task>; may be absent for a task without secrets. */
  secretsDir?: string;
  /**
   * The task's relative secret targets (or just true/false): when there is any, the whole secrets folder is bound
   * read-only at /run/secrets. Default: true when secretsDir is set.
   */
  secretMounts?: boolean | string[];
  absoluteMounts?: AbsoluteMount[];
  /** The task's root-only folder of files bound one by one (absolute targets, configs), beside its secrets folder
   * on the same mount (agent/worker/placement.ts); absent when it has none. */
  filesDir?: string;
  /** Default 10 s, as Docker. */
  stopGracePeriodMs?: number;
  /** The task's hostname in its own UTS namespace (Docker's ContainerSpec.Hostname); default: the host's. */
  hostname?: string;
}

export interface TaskStatus {
  id: string;
  state: TaskState;
  /** Docker's Status.Message ("preparing", "started", "finished"...). */
  message: string;
  /** Docker's Status.Err, when the task failed or was rejected. */
  err?: string;
  exitCode?: number;
  pid?: number;
  timestamp: string;
}

/** The in-task place of relative secret targets, as in Docker. */
export const SECRETS_TARGET = '/run/secrets';
export const DEFAULT_STOP_GRACE_MS = 10_000;
/** moby adds this PATH when the task's env has none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class TaskSpecError extends Error {
  override name = 'TaskSpecError';
}

export interface Identity {
  uid: number;
  gid: number;
}

/** "uid[:gid]", numbers only; a missing gid is the uid's primary group from /etc/passwd, else 0 (Docker's rule). */
export function parseUser(user: string | undefined): Identity {
  if (user === undefined || user === '') return { uid: 0, gid: 0 };
  const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(user);
  if (!m) throw new TaskSpecError(`invalid user "${user}": only numeric uid[:gid] is supported`);
  const uid = Number(m[1]);
  const gid = m[2] !== undefined ? Number(m[2]) : primaryGid(uid);
  if (uid > 0xfffffffe || gid > 0xfffffffe) throw new TaskSpecError(`invalid user "${user}": id out of range`);
  return { uid, gid };
}

function primaryGid(uid: number): number {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[2] === String(uid) && f[3] !== undefined && /^\d+$/.test(f[3])) return Number(f[3]);
    }
  } catch {
    /* no passwd file: gid 0 as Docker does for unknown numeric users */
  }
  return 0;
}

/** Command + Args; Docker's text when there is neither (the engine has no image default to fall back on here). */
export function taskArgv(spec: TaskSpec): string[] {
  const argv = [...(spec.command ?? []), ...(spec.args ?? [])];
  if (argv.length === 0) throw new TaskSpecError('No command specified');
  if (argv[0] === '') throw new TaskSpecError('invalid command: empty executable name');
  // env(1) starts the command: it would take a first word with "=" for one more variable.
  if (argv[0]!.includes('=')) throw new TaskSpecError(`invalid command "${argv[0]}": an executable name cannot contain "="`);
  for (const a of argv) if (a.includes('\0')) throw new TaskSpecError('invalid command: argument contains a NUL byte');
  return argv;
}

/** The task's environment: its own entries only, plus Docker's default PATH when it has none. */
export function taskEnv(spec: TaskSpec): string[] {
  const env = spec.env ?? [];
  for (const e of env) {
    const eq = e.indexOf('=');
    if (eq <= 0) throw new TaskSpecError(`invalid environment variable "${e.split('=')[0] ?? ''}": expected KEY=VALUE`);
    if (e.includes('\0')) throw new TaskSpecError(`invalid environment variable "${e.slice(0, eq)}": contains a NUL byte`);
  }
  return env.some((e) => e.startsWith('PATH=')) ? [...env] : [...env, `PATH=${DEFAULT_PATH}`];
}

/** A hostname as the kernel takes it (at most 64 bytes) and as DNS names go: letters, digits, '-', '.'. */
export function checkHostname(h: string): string {
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,62}[A-Za-z0-9])?$/.test(h)) {
    throw new TaskSpecError(`invalid hostname "${h}": 1 to 64 letters, digits, '-' or '.', starting and ending with a letter or digit`);
  }
  return h;
}

/** Whether /run/secrets gets the task's folder; relative targets are checked for shape only (the folder has them). */
export function wantsSecretsBind(spec: TaskSpec): boolean {
  const m = spec.secretMounts;
  if (Array.isArray(m)) {
    for (const rel of m) {
      if (!rel || rel.startsWith('/') || rel.includes('\0') || rel.split('/').some((p) => p === '..' || p === '')) {
        throw new TaskSpecError(`invalid secret target "${rel}": expected a relative path without ".." or empty parts`);
      }
    }
    return m.length > 0;
  }
  return m ?? spec.secretsDir !== undefined;
}

export function absolutePath(what: string, p: string): string {
  if (!isAbsolute(p)) throw new TaskSpecError(`invalid ${what} "${p}": must be an absolute path`);
  if (p.includes('\0')) throw new TaskSpecError(`invalid ${what}: contains a NUL byte`);
  const n = normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** true when p is inside dir (or is dir itself when orSame). */
export function isUnder(p: string, dir: string, orSame = false): boolean {
  if (p === dir) return orSame;
  return dir === '/' ? p !== '/' : p.startsWith(dir + '/');
}

/** A task's next status (both runtimes): the pid is kept from the previous one unless a new one is given. */
export function nextStatus(prev: TaskStatus, state: TaskState, message: string, err?: string, pid?: number, exitCode?: number): TaskStatus {
  const s: TaskStatus = { id: prev.id, state, message, timestamp: new Date().toISOString() };
  if (err !== undefined) s.err = err;
  const p = pid ?? prev.pid;
  if (p !== undefined) s.pid = p;
  if (exitCode !== undefined) s.exitCode = exitCode;
  return s;
}
