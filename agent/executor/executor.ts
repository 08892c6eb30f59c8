// Runs tasks as processes, each in its own private mount namespace with its secrets bound in place, and reports
// their states with Docker's words. Driven by the dispatcher (or standalone code); knows nothing of the manager.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { realpathSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';
import { createLogger, type Logger } from '../../shared/log.js';
import { FS_TYPE } from '../fs/mount.js';
import { containerViewOps, launcherArgs, launcherScript, privilegeDrop } from './launcher.js';
import { planMounts } from './mount-plan.js';
import {
  DEFAULT_PATH, DEFAULT_STOP_GRACE_MS, FINAL_STATES, TaskSpecError, absolutePath, checkHostname, parseUser, taskArgv,
  taskEnv, nextStatus,
  type Identity, type TaskSpec, wantsSecretsBind, type TaskState, type TaskStatus,
} from './spec.js';
import { TailBuffer } from './tail-buffer.js';
import { killTaskRemains, taskMountNs } from './task-remains.js';
import { findTools, type Tools } from './tools.js';

export interface ExecutorOptions {
  logger?: Logger;
  /** Bytes of stdout and of stderr kept per task (default 8 KiB each). */
  tailBytes?: number;
  /**
   * Folders every task sees empty (an empty read-only tmpfs over them): the agent's state dir, with its node key
   * and control socket, which a root task (CAP_DAC_OVERRIDE) could otherwise read or connect to.
   */
  hiddenPaths?: string[];
}

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface ExecOptions {
  /** Numeric "uid[:gid]"; default: the task's user. */
  user?: string;
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /** Most bytes kept of each stream (default 1 MiB); the rest is dropped. */
  maxOutputBytes?: number;
}

interface Task {
  spec: TaskSpec;
  identity?: Identity;
  env: string[];
  dir: string;
  status: TaskStatus;
  /** unshare, the launcher's parent outside the task's PID namespace: leads the task's process group and session. */
  child?: ChildProcess;
  /** The task's own main process (host pid), once the launcher (its PID 1) has started it. */
  taskPid?: number;
  stdout: TailBuffer;
  stderr: TailBuffer;
  stopRequested: boolean;
  /** The task's private mount namespace, known once it runs (what is left in it is killed when it ends). */
  mountNs?: string | null;
  /** Resolves with the final status. */
  done: Promise<TaskStatus>;
  finish: (s: TaskStatus) => void;
  /** Resolves with the running status, or the final one when it never ran. */
  started: Promise<TaskStatus>;
  markStarted: (s: TaskStatus) => void;
}

export declare interface Executor {
  on(event: 'status', listener: (s: TaskStatus) => void): this;
  /** A task's process exists (pid known; it keeps that pid through the launcher's execs into the task). */
  on(event: 'launched', listener: (l: { id: string; pid: number }) => void): this;
  /** The task's output as it comes (the tail buffers keep the last few KiB as well). */
  on(event: 'output', listener: (o: { id: string; stream: 'stdout' | 'stderr'; chunk: Buffer }) => void): this;
  once(event: 'status', listener: (s: TaskStatus) => void): this;
  off(event: 'status', listener: (s: TaskStatus) => void): this;
  emit(event: 'status', s: TaskStatus): boolean;
  emit(event: 'launched', l: { id: string; pid: number }): boolean;
  emit(event: 'output', o: { id: string; stream: 'stdout' | 'stderr'; chunk: Buffer }): boolean;
}

/** Mount plans at once (see planFew): one with libuv's default pool of 4 (a process that serves a mount without
 * bin/runsecrets' sizing, as tests do), four with the agent's 32. */
const PLANS_AT_ONCE = (Number(process.env.UV_THREADPOOL_SIZE) || 4) >= 16 ? 4 : 1;

// (The interface above types the "status" event; it merges with this class.)
export class Executor extends EventEmitter {
  private readonly tasks = new Map<string, Task>();
  private readonly log: Logger;
  private readonly tailBytes: number;
  private readonly tools: Tools;
  private readonly hiddenPaths: string[];

  constructor(opts: ExecutorOptions = {}) {
    super();
    this.log = opts.logger ?? createLogger('executor');
    this.tailBytes = opts.tailBytes ?? 8192;
    this.tools = findTools();
    this.hiddenPaths = (opts.hiddenPaths ?? []).map((p) => absolutePath('hidden path', p));
  }

  /**
   * Starts a task. Resolves once it runs, or with its final status when it was rejected or failed to start. State
   * changes are emitted as 'status' events: preparing, ready, starting, running, then complete, failed or
   * shutdown; rejected when the spec or its mounts are refused before anything ran.
   */
  async start(spec: TaskSpec): Promise<TaskStatus> {
    if (!spec.id) throw new TaskSpecError('a task needs an ID');
    const old = this.tasks.get(spec.id);
    if (old && !FINAL_STATES.has(old.status.state)) throw new TaskSpecError(`task ${spec.id} is already running`);
    let finish!: (s: TaskStatus) => void;
    const done = new Promise<TaskStatus>((res) => (finish = res));
    let markStarted!: (s: TaskStatus) => void;
    const started = new Promise<TaskStatus>((res) => (markStarted = res));
    const task: Task = {
      spec,
      env: [],
      dir: '/',
      status: { id: spec.id, state: 'new', message: 'created', timestamp: new Date().toISOString() },
      stdout: new TailBuffer(this.tailBytes),
      stderr: new TailBuffer(this.tailBytes),
      stopRequested: false,
      done,
      finish,
      started,
      markStarted,
    };
    this.tasks.set(spec.id, task);

    this.setState(task, 'preparing', 'preparing');
    let plan;
    let argv: string[];
    try {
      argv = taskArgv(spec);
      task.env = taskEnv(spec);
      task.identity = parseUser(spec.user);
      task.dir = spec.dir ? absolutePath('working folder', spec.dir) : '/';
      if (spec.hostname !== undefined) checkHostname(spec.hostname);
      const secretMounts = wantsSecretsBind(spec);
      const absoluteMounts = spec.absoluteMounts ?? [];
      if (spec.secretsDir === undefined && (secretMounts || absoluteMounts.length > 0)) {
        throw new TaskSpecError('a task with secrets needs its secrets folder (secretsDir)');
      }
      plan = spec.secretsDir === undefined
        ? { secretsDir: '', ops: [{ op: 'hide-all', fstype: FS_TYPE, except: '' } as const] }
        : await this.planFew(() => planMounts({ secretsDir: spec.secretsDir!, secretMounts, absoluteMounts, ...(spec.filesDir !== undefined ? { filesDir: spec.filesDir } : {}) }));
    } catch (err) {
      const text = err instanceof TaskSpecError ? err.message : `preparing the task failed: ${(err as Error).message}`;
      return this.end(task, 'rejected', 'rejected', text);
    }
    if (task.stopRequested) return this.end(task, 'shutdown', 'shutdown');
    this.setState(task, 'ready', 'prepared');
    this.setState(task, 'starting', 'starting');
    return this.launch(task, argv, plan.secretsDir, plan.ops);
  }

  /**
   * Mount plans look paths up on our own FUSE mount from libuv's pool, whose threads also read /dev/fuse to answer
   * those lookups: dozens of tasks planned at once filled the pool with lookups that no reader could answer (a
   * deadlock, seen with 50 tasks per agent and the default pool of 4). A few plans at a time (each one pool call at
   * a time) keep most of the agent's pool (32 threads, bin/runsecrets) free for the readers; one at a time made 50
   * tasks wait minutes in "preparing" on a loaded host (median 150 s of the 20 x 50 bench's 159 s to running).
   */
  private planning = 0;
  private readonly planQueue: Array<() => void> = [];
  private async planFew<T>(fn: () => Promise<T>): Promise<T> {
    if (this.planning >= PLANS_AT_ONCE) await new Promise<void>((res) => this.planQueue.push(res));
    else this.planning++;
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next waiter (the count stays), or is freed.
      const next = this.planQueue.shift();
      if (next) next();
      else this.planning--;
    }
  }

  private launch(task: Task, argv: string[], secretsDir: string, ops: Parameters<typeof launcherArgs>[0]['ops']): Promise<TaskStatus> {
    const id = task.spec.id;
    const allOps = [
      ...(task.spec.hostname !== undefined ? [{ op: 'hostname' as const, name: task.spec.hostname }] : []),
      ...ops, ...containerViewOps(), ...this.hiddenPaths.map((path) => ({ op: 'mask' as const, path }))];
    const args = launcherArgs({ secretsDir, dir: task.dir, uid: task.identity!.uid, gid: task.identity!.gid, ops: allOps, env: task.env, argv });
    // Explicit stdio: only these four fds reach the launcher (libuv opens everything else close-on-exec, /dev/fuse
    // included), and the launcher closes every fd above 2 before the exec. detached: its own process group, so that a
    // SIGKILL after the grace period also reaches the launcher, which is PID 1 of the task's PID namespace: when it
    // dies the kernel kills everything in it. --kill-child: the same when unshare itself is killed.
    const child = spawn(
      this.tools.unshare,
      [
        '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child', '--uts', '--ipc', '--',
        this.tools.bash, '--norc', '--noprofile', launcherScript(), ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: { PATH: DEFAULT_PATH }, cwd: '/', detached: true },
    );
    task.child = child;
    // 'output': the whole output, for the task log store (agent/logs); the tail buffers keep the last few KiB.
    child.stdout!.on('data', (b: Buffer) => {
      task.stdout.push(b);
      this.emit('output', { id, stream: 'stdout', chunk: b });
    });
    child.stderr!.on('data', (b: Buffer) => {
      task.stderr.push(b);
      this.emit('output', { id, stream: 'stderr', chunk: b });
    });
    const stderrClosed = new Promise<void>((res) => child.stderr!.once('close', () => res()));
    let statusText = '';
    let execWatch: Promise<void> | undefined;
    const statusPipe = child.stdio[3] as Readable;
    statusPipe.setEncoding('utf8');
    const statusClosed = new Promise<void>((res) => {
      statusPipe.on('data', (s: string) => {
        statusText += s;
        const ok = /^ok (\d+)\n/.exec(statusText);
        if (ok && !execWatch) {
          task.taskPid = Number(ok[1]);
          execWatch = this.watchExec(task, task.taskPid, argv);
        }
      });
      statusPipe.on('close', () => res());
      statusPipe.on('error', () => res());
    });

    let spawnError: Error | undefined;
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('exit', (code, signal) => {
      // The task is its main process: what it leaves behind goes with it, as in Docker (task-remains.ts).
      const remains = killTaskRemains(child.pid!, task.mountNs ?? null).then((n) => {
        if (n > 0) this.log.info({ task: id, processes: n }, 'killed the processes the task left behind');
      });
      void statusClosed.then(async () => {
        await Promise.all([execWatch, remains]);
        // A task that ran and ended before the exec was seen still went through running, as in Docker.
        if (task.taskPid !== undefined && task.status.state === 'starting') this.setState(task, 'running', 'started', undefined, task.taskPid);
        const exitCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
        // For the "cannot run" text below: env's complaint may still be in the pipe (bounded, as something the task
        // started may keep stderr open).
        if (exitCode === 126 || exitCode === 127) await Promise.race([stderrClosed, new Promise((r) => setTimeout(r, 200))]);
        if (task.stopRequested) this.end(task, 'shutdown', 'shutdown', undefined, exitCode);
        else if (task.taskPid === undefined) {
          const why = statusText.startsWith('error ')
            ? statusText.slice(6).trim()
            : `the task's launcher exited with code ${exitCode}${spawnError ? `: ${spawnError.message}` : ''}`;
          this.end(task, 'failed', 'starting task failed', why, exitCode);
        } else if (exitCode === 0) this.end(task, 'complete', 'finished', undefined, 0);
        else this.end(task, 'failed', 'started', exitError(exitCode, task.stderr.read()), exitCode);
      });
    });
    if (child.pid === undefined) {
      // spawn failed outright ('error' follows, 'exit' may not): end here.
      return new Promise((res) => child.once('error', (err) => res(this.end(task, 'failed', 'starting task failed', `cannot start the launcher: ${err.message}`))));
    }
    this.log.debug({ task: id, pid: child.pid, mounts: ops.length }, 'task launched');
    this.emit('launched', { id, pid: child.pid });
    return task.started;
  }

  /**
   * "ok PID" comes from the launcher's child just before it execs setpriv, which execs env, which execs the task. The task
   * counts as running once that last exec happened, so that its pid, fds and user are the task's own: the process
   * shows the task's argv as its command line, or (for a program that rewrites it) no longer runs one of the
   * launcher's programs. A process that exits first is handled by the exit path.
   */
  private async watchExec(task: Task, pid: number, argv: string[]): Promise<void> {
    const want = argv.join('\0') + '\0';
    const launcherExes = new Set([this.tools.bash, this.tools.setpriv, this.tools.env].map(realpathOr));
    const deadline = Date.now() + 5000;
    // 1 ms, doubling to 16 ms: the exec is usually seen at once, and 50 tasks starting together do not keep the pool
    // busy with reads of /proc every millisecond (the mount's notifications wait on the same pool).
    let pause = 1;
    while (task.status.state === 'starting') {
      try {
        const [cmdline, exe] = await Promise.all([readFile(`/proc/${pid}/cmdline`, 'utf8'), readlink(`/proc/${pid}/exe`)]);
        if (cmdline === want || !launcherExes.has(exe) || Date.now() > deadline) {
          if (task.status.state === 'starting') {
            task.mountNs = taskMountNs(pid); // alive and past its launcher's unshare: its own namespace
            this.setState(task, 'running', 'started', undefined, pid);
          }
          return;
        }
      } catch {
        return; // gone (or a zombie): the exit path reports it
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 16);
    }
  }

  /** SIGTERM, then SIGKILL (to the task's whole process group) after its grace period; resolves once it is gone. */
  async stop(id: string): Promise<TaskStatus> {
    const task = this.tasks.get(id);
    if (!task) throw new Error(`no such task: ${id}`);
    if (FINAL_STATES.has(task.status.state)) return task.status;
    task.stopRequested = true;
    const child = task.child;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const pid = child.pid;
      const grace = task.spec.stopGracePeriodMs ?? DEFAULT_STOP_GRACE_MS;
      this.log.info({ task: id, pid: task.taskPid ?? pid, graceMs: grace }, 'stopping task');
      // SIGTERM to the task's own process (its init would only forward it); one not started yet has nothing to
      // warn: its launcher is killed, and the kernel takes its PID namespace along.
      if (task.taskPid !== undefined) signal(task.taskPid, 'SIGTERM');
      else signal(-pid, 'SIGKILL');
      const timer = setTimeout(() => {
        this.log.info({ task: id, pid }, 'task ignored SIGTERM for its grace period: killing it');
        signal(-pid, 'SIGKILL');
        signal(pid, 'SIGKILL');
      }, grace);
      try {
        return await task.done;
      } finally {
        clearTimeout(timer);
      }
    }
    return task.done;
  }

  /** A signal to the running task's own process (not its launcher); throws when it is not running. */
  signal(id: string, sig: NodeJS.Signals): void {
    const task = this.tasks.get(id);
    const pid = task?.taskPid;
    if (!task || task.status.state !== 'running' || pid === undefined) throw new Error(`task ${id} is not running`);
    process.kill(pid, sig);
  }

  /** Stops every task that is not final yet. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.tasks.keys()].map((id) => this.stop(id)));
  }

  /**
   * Runs argv inside a running task's mount namespace as the task's user (or opts.user), in its working folder
   * and with its environment: the equivalent of `docker exec`.
   */
  exec(id: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const task = this.tasks.get(id);
    if (!task) return Promise.reject(new Error(`no such task: ${id}`));
    const pid = task.taskPid;
    if (task.status.state !== 'running' || pid === undefined) {
      return Promise.reject(new Error(`task ${id} is not running (state ${task.status.state})`));
    }
    if (argv.length === 0) return Promise.reject(new Error('exec needs a command'));
    if (argv[0]!.includes('=')) return Promise.reject(new Error(`invalid command "${argv[0]}": an executable name cannot contain "="`));
    let who: Identity;
    try {
      who = opts.user === undefined ? task.identity! : parseUser(opts.user);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const max = opts.maxOutputBytes ?? 1 << 20;
    const child = spawn(
      this.tools.nsenter,
      [
        `--target=${pid}`, '--mount', '--pid', '--uts', '--ipc', `--wd=${task.dir}`, '--',
        ...privilegeDrop(this.tools.setpriv, who),
        this.tools.env, '-i', ...task.env, ...argv,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: DEFAULT_PATH }, cwd: '/' },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < max) out.push(b.subarray(0, max - outLen));
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < max) err.push(b.subarray(0, max - errLen));
      errLen += b.length;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    return new Promise((res, rej) => {
      child.once('error', (e) => {
        clearTimeout(timer);
        rej(new Error(`exec in task ${id} failed: ${e.message}`));
      });
      child.once('close', (code, sig) => {
        clearTimeout(timer);
        const exitCode = code ?? 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0);
        this.log.debug({ task: id, exitCode }, 'exec finished');
        res({ exitCode, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
      });
    });
  }

  /**
   * What another process needs to exec into a running task (the control socket's answer): its pid, user, working
   * folder and environment (copies). Throws when the task is unknown or not running.
   */
  execTarget(id: string): { pid: number; uid: number; gid: number; dir: string; env: string[] } {
    const task = this.tasks.get(id);
    if (!task) throw new Error(`no such task: ${id}`);
    const pid = task.taskPid;
    if (task.status.state !== 'running' || pid === undefined || !task.identity) {
      throw new Error(`task ${id} is not running (state ${task.status.state})`);
    }
    return { pid, uid: task.identity.uid, gid: task.identity.gid, dir: task.dir, env: [...task.env] };
  }

  status(id: string): TaskStatus | undefined {
    const t = this.tasks.get(id);
    return t ? { ...t.status } : undefined;
  }

  list(): TaskStatus[] {
    return [...this.tasks.values()].map((t) => ({ ...t.status }));
  }

  /** The last few KiB of the task's stdout and stderr (copies). */
  output(id: string): { stdout: Buffer; stderr: Buffer } | undefined {
    const t = this.tasks.get(id);
    return t ? { stdout: t.stdout.read(), stderr: t.stderr.read() } : undefined;
  }

  /** Resolves with the task's final status. */
  wait(id: string): Promise<TaskStatus> {
    const t = this.tasks.get(id);
    return t ? t.done : Promise.reject(new Error(`no such task: ${id}`));
  }

  /** Drops a finished task's record (status and output). */
  forget(id: string): boolean {
    const t = this.tasks.get(id);
    if (!t || !FINAL_STATES.has(t.status.state)) return false;
    return this.tasks.delete(id);
  }

  private setState(task: Task, state: TaskState, message: string, err?: string, pid?: number, exitCode?: number): TaskStatus {
    const s = nextStatus(task.status, state, message, err, pid, exitCode);
    task.status = s;
    // State, exit code and error text only: never the task's output.
    const level = state === 'failed' || state === 'rejected' ? 'warn' : 'info';
    this.log[level]({ task: s.id, state, exitCode, err, pid: s.pid }, 'task state');
    if (state === 'running' || FINAL_STATES.has(state)) task.markStarted({ ...s });
    this.emit('status', { ...s });
    return s;
  }

  private end(task: Task, state: TaskState, message: string, err?: string, exitCode?: number): TaskStatus {
    if (FINAL_STATES.has(task.status.state)) return task.status;
    const s = this.setState(task, state, message, err, undefined, exitCode);
    task.finish({ ...s });
    return s;
  }
}

/**
 * Docker's text for a non-zero exit; when env(1) could not run the command at all (its one-line complaint is all
 * the task wrote), say so, as Docker does for a missing executable.
 */
function exitError(exitCode: number, stderr: Buffer): string {
  if (exitCode === 126 || exitCode === 127) {
    const m = /^env: '([^'\n]*)': (No such file or directory|Permission denied)\n$/.exec(stderr.toString('utf8'));
    if (m) return `starting task failed: cannot run "${m[1]}": ${m[2] === 'Permission denied' ? 'permission denied' : 'executable file not found'}`;
  }
  return `task: non-zero exit (${exitCode})`;
}

function realpathOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}
