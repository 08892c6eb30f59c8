// Runs tasks as OCI containers with runc: pulls the task's image through the agent's image store, prepares an
// overlay root and a bundle (container-prep.ts), runs `runc run` in the foreground as the container's parent in its
// own session, and reports the task's states with Docker's words, as the process runtime does (agent/executor/).
// docs/images.md "The OCI runtime" has the layout on disk and what a container gets.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { containerIdOf } from '../../../shared/container-id.js';
import { createLogger, type Logger } from '../../../shared/log.js';
import type { RegistryRules } from '../../../shared/registry-rules.js';
import { DEFAULT_PATH, DEFAULT_STOP_GRACE_MS, FINAL_STATES, TaskSpecError, checkHostname, nextStatus, type TaskState, type TaskStatus } from '../../executor/spec.js';
import { mergeImageConfig, NoCommandError, type MergedConfig } from '../../images/merge.js';
import { ImagePullError, ImageStore, type GcResult, type StoredImage } from '../../images/store.js';
import type { ContainerInfo, ExecRequest, HostCommand, RuntimeTaskSpec, TaskRuntime } from '../runtime.js';
import { containerPaths, ContainerPrepError, prepareContainer, removeContainerFiles, type ContainerPaths, type PreparedContainer } from './container-prep.js';
import { findOciTools, type OciTools } from './host-tools.js';
import { lastRuncError, Runc } from './runc.js';

export interface OciRuntimeOptions {
  /** The agent's state dir: containers under STATE/containers, runc's state under STATE/runc, images (when no
   * imageStore is given) under STATE/images. */
  stateDir: string;
  /** The agent's image store; default: one of its own under stateDir with `rules`. */
  imageStore?: ImageStore;
  rules?: RegistryRules;
  log?: Logger;
  /** runc to use (default: runc on the fixed PATH). */
  runcPath?: string;
}

type Stream = 'stdout' | 'stderr';

interface OciTask {
  spec: RuntimeTaskSpec;
  containerId: string;
  paths: ContainerPaths;
  status: TaskStatus;
  info?: ContainerInfo;
  digest?: string;
  stopSignal: string;
  child?: ChildProcess;
  /** The container's init (host pid), once runc has written it. */
  pid?: number;
  /** Output held until runc is known to have started the container: before that, stderr may be runc's own error. */
  held: Array<{ stream: Stream; chunk: Buffer }> | null;
  stopRequested: boolean;
  removing?: Promise<void>;
  done: Promise<TaskStatus>;
  finish: (s: TaskStatus) => void;
  started: Promise<TaskStatus>;
  markStarted: (s: TaskStatus) => void;
}

export class OciRuntime extends EventEmitter implements TaskRuntime {
  readonly name = 'oci' as const;
  readonly store: ImageStore;
  readonly containersDir: string;
  private readonly runc: Runc;
  private readonly tools: OciTools;
  private readonly log: Logger;
  private readonly tasks = new Map<string, OciTask>();
  private recovery: Promise<string[]> | null = null;
  /** Starts between their first step and knowing their image's digest: an image gc now could take their image. */
  private resolving = 0;
  private gcRunning: Promise<unknown> = Promise.resolve();

  constructor(opts: OciRuntimeOptions) {
    super();
    this.log = opts.log ?? createLogger('oci-runtime');
    this.tools = findOciTools(opts.runcPath);
    this.containersDir = join(opts.stateDir, 'containers');
    this.runc = new Runc(this.tools.runc, join(opts.stateDir, 'runc'));
    this.store = opts.imageStore ?? new ImageStore({ stateDir: opts.stateDir, ...(opts.rules ? { rules: opts.rules } : {}), log: this.log });
  }

  /**
   * Kills and deletes the containers a previous life of the agent left in this runtime's runc root, and removes
   * their roots and writable layers, so that no task runs on with a dead secrets mount. Runs once; start() waits
   * for it. Resolves with the container IDs found.
   */
  recover(): Promise<string[]> {
    // A failed recovery is tried again by the next caller: no task runs until one succeeded.
    this.recovery ??= this.recoverOnce().catch((err: unknown) => {
      this.recovery = null;
      throw err;
    });
    return this.recovery;
  }

  private async recoverOnce(): Promise<string[]> {
    await mkdir(this.containersDir, { recursive: true, mode: 0o700 });
    await mkdir(this.runc.root, { recursive: true, mode: 0o700 });
    const found = new Set<string>();
    for (const c of await this.runc.list()) {
      found.add(c.id);
      await this.runc.deleteForce(c.id).catch((err: unknown) => this.log.error({ container: c.id, err: (err as Error).message }, 'deleting a leftover container failed'));
    }
    for (const name of await readdir(this.containersDir)) {
      found.add(name);
      await removeContainerFiles(this.tools, join(this.containersDir, name));
    }
    if (found.size > 0) this.log.warn({ containers: [...found] }, 'removed the containers of a previous agent life');
    return [...found];
  }

  async start(spec: RuntimeTaskSpec): Promise<TaskStatus> {
    if (!spec.id) throw new TaskSpecError('a task needs an ID');
    const old = this.tasks.get(spec.id);
    if (old && !FINAL_STATES.has(old.status.state)) throw new TaskSpecError(`task ${spec.id} is already running`);
    if (old) throw new TaskSpecError(`task ${spec.id} is not removed yet`);
    const containerId = containerIdOf(spec.id);
    const task = this.newTask(spec, containerId);
    this.tasks.set(spec.id, task);
    this.setState(task, 'preparing', 'preparing');
    this.resolving++;
    let image: StoredImage;
    let merged: MergedConfig;
    let hostname: string;
    try {
      await this.recover();
      await this.gcRunning;
      if (!spec.image) throw new TaskSpecError('a container needs an image');
      hostname = spec.hostname !== undefined ? checkHostname(spec.hostname) : containerId.slice(0, 12);
      image = await this.store.pull(spec.image, { auth: spec.imageAuth });
      task.digest = image.digest;
      merged = mergeImageConfig(image.config, spec);
    } catch (err) {
      return this.end(task, 'rejected', 'rejected', rejectText(err));
    } finally {
      this.resolving--;
    }
    task.stopSignal = merged.stopSignal ?? 'SIGTERM';
    if (task.stopRequested) return this.end(task, 'shutdown', 'shutdown');
    let prepared: PreparedContainer;
    try {
      prepared = await prepareContainer({
        tools: this.tools, paths: task.paths, task: spec, image, merged, hostname, cgroupsPath: `/runsecrets/${containerId}`,
        lookups: (fn) => this.oneAtATime(fn),
      });
    } catch (err) {
      return this.end(task, 'rejected', 'rejected', rejectText(err));
    }
    task.info = {
      containerId, taskId: spec.id, name: spec.name, image: spec.image, imageDigest: image.digest,
      path: merged.argv[0]!, args: merged.argv.slice(1), env: prepared.spec.process.env, user: merged.user,
      workingDir: prepared.spec.process.cwd, hostname, labels: merged.labels, created: new Date().toISOString(),
      status: task.status, mounts: prepared.binds.map((b) => ({ source: b.source, destination: b.destination, rw: false })),
    };
    if (task.stopRequested) return this.end(task, 'shutdown', 'shutdown');
    this.setState(task, 'ready', 'prepared');
    this.setState(task, 'starting', 'starting');
    return this.launch(task);
  }

  private lookupTail: Promise<unknown> = Promise.resolve();
  private oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lookupTail.then(fn, fn);
    this.lookupTail = next.catch(() => undefined);
    return next;
  }

  private newTask(spec: RuntimeTaskSpec, containerId: string): OciTask {
    let finish!: (s: TaskStatus) => void;
    const done = new Promise<TaskStatus>((res) => (finish = res));
    let markStarted!: (s: TaskStatus) => void;
    const started = new Promise<TaskStatus>((res) => (markStarted = res));
    return {
      spec, containerId, paths: containerPaths(this.containersDir, containerId),
      status: { id: spec.id, state: 'new', message: 'created', timestamp: new Date().toISOString() },
      stopSignal: 'SIGTERM', held: [], stopRequested: false, done, finish, started, markStarted,
    };
  }

  private launch(task: OciTask): Promise<TaskStatus> {
    const p = task.paths;
    // detached: runc leads its own session, so that signals to the agent's group do not reach it; the container is
    // stopped through `runc kill` only. stdout/stderr pass through runc to the container's process.
    const child = spawn(this.tools.runc, this.runc.runArgs(task.containerId, p.dir, p.pidFile, p.logFile), {
      stdio: ['ignore', 'pipe', 'pipe'], cwd: p.dir, env: { PATH: DEFAULT_PATH }, detached: true,
    });
    task.child = child;
    const onData = (stream: Stream) => (chunk: Buffer) => {
      if (task.held) task.held.push({ stream, chunk });
      else this.emit('output', { id: task.spec.id, stream, chunk });
    };
    child.stdout!.on('data', onData('stdout'));
    child.stderr!.on('data', onData('stderr'));
    let spawnError: Error | undefined;
    child.on('error', (err) => {
      spawnError = err;
      // runc could not be started at all: no 'close' may follow.
      if (child.pid === undefined) void this.exited(task, 1, err);
    });
    void this.watchStart(task, child);
    child.on('close', (code, signal) => void this.exited(task, code ?? 128 + signalNumber(signal), spawnError));
    return task.started;
  }

  /** The container runs once runc has written its init's pid (after the exec into the task's program was set up). */
  private async watchStart(task: OciTask, child: ChildProcess): Promise<void> {
    while (task.status.state === 'starting' && child.exitCode === null && child.signalCode === null) {
      if (await this.readPid(task)) return;
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  private async readPid(task: OciTask): Promise<boolean> {
    const text = await readFile(task.paths.pidFile, 'utf8').catch(() => '');
    if (!/^\d+$/.test(text.trim())) return false;
    if (task.status.state !== 'starting') return true;
    task.pid = Number(text.trim());
    this.emit('launched', { id: task.spec.id, pid: task.pid });
    if (task.info) task.info.startedAt = new Date().toISOString();
    this.setState(task, 'running', 'started', undefined, task.pid);
    this.release(task);
    return true;
  }

  private release(task: OciTask): void {
    const held = task.held;
    task.held = null;
    for (const h of held ?? []) this.emit('output', { id: task.spec.id, stream: h.stream, chunk: h.chunk });
  }

  private async exited(task: OciTask, exitCode: number, spawnError: Error | undefined): Promise<void> {
    const ran = task.pid !== undefined || (await this.readPid(task));
    if (task.info) task.info.finishedAt = new Date().toISOString();
    if (!ran) {
      task.held = null; // runc's own complaint, not the task's output
      const why = (await lastRuncError(task.paths.logFile)) ?? spawnError?.message ?? `runc exited with code ${exitCode}`;
      if (task.stopRequested) this.end(task, 'shutdown', 'shutdown', undefined, exitCode);
      else this.end(task, 'failed', 'starting', `starting container failed: ${why}`, startFailureCode(why, exitCode));
      return;
    }
    this.release(task);
    if (task.stopRequested) this.end(task, 'shutdown', 'shutdown', undefined, exitCode);
    else if (exitCode === 0) this.end(task, 'complete', 'finished', undefined, 0);
    else this.end(task, 'failed', 'started', `task: non-zero exit (${exitCode})`, exitCode);
  }

  /** The stop signal (the image's StopSignal, else SIGTERM), the grace period, SIGKILL; resolves once it ended. */
  async stop(id: string): Promise<TaskStatus> {
    const task = this.tasks.get(id);
    if (!task) throw new Error(`no such task: ${id}`);
    if (FINAL_STATES.has(task.status.state)) return task.status;
    task.stopRequested = true;
    const child = task.child;
    if (!child) return task.done; // still preparing: start() ends it as shutdown before anything runs
    const grace = task.spec.stopGracePeriodMs ?? DEFAULT_STOP_GRACE_MS;
    this.log.info({ task: id, container: task.containerId, graceMs: grace, signal: task.stopSignal }, 'stopping task');
    void this.killWith(task, child, task.stopSignal);
    const timer = setTimeout(() => {
      this.log.info({ task: id }, 'task did not stop within its grace period: killing it');
      void this.killWith(task, child, 'SIGKILL');
    }, grace);
    try {
      return await task.done;
    } finally {
      clearTimeout(timer);
    }
  }

  /** `runc kill <container> SIGNAME`: to the container's process 1, the task's main process. */
  async signal(id: string, sig: NodeJS.Signals): Promise<void> {
    const task = this.tasks.get(id);
    if (!task || task.status.state !== 'running' || !task.child) throw new Error(`task ${id} is not running`);
    await this.runc.kill(task.containerId, sig);
  }

  /** `runc kill`, retried while runc is still creating the container (it does not exist for runc yet). */
  private async killWith(task: OciTask, child: ChildProcess, sig: string): Promise<void> {
    while (child.exitCode === null && child.signalCode === null) {
      try {
        await this.runc.kill(task.containerId, sig);
        return;
      } catch (err) {
        if (child.exitCode !== null || child.signalCode !== null) return;
        this.log.debug({ task: task.spec.id, err: (err as Error).message }, 'runc kill failed: retrying');
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.tasks.keys()].map((id) => this.stop(id)));
  }

  /** Deletes the container (runc delete), unmounts its root and removes its writable layer, and forgets it. */
  remove(id: string): Promise<void> {
    const task = this.tasks.get(id);
    if (!task) return Promise.resolve();
    task.removing ??= (async () => {
      if (!FINAL_STATES.has(task.status.state)) await this.stop(id);
      await this.runc.deleteForce(task.containerId).catch(() => undefined); // none when runc never created it
      await removeContainerFiles(this.tools, task.paths.dir);
      this.tasks.delete(id);
    })();
    return task.removing;
  }

  status(id: string): TaskStatus | undefined {
    const t = this.tasks.get(id);
    return t ? { ...t.status } : undefined;
  }

  list(): TaskStatus[] {
    return [...this.tasks.values()].map((t) => ({ ...t.status }));
  }

  inspect(id: string): ContainerInfo | undefined {
    const t = this.tasks.get(id);
    if (!t?.info) return undefined;
    return structuredClone({ ...t.info, status: t.status, ...(t.pid !== undefined && t.status.state === 'running' ? { pid: t.pid } : {}) });
  }

  /** The task's container ID (the runc container), known from the start. */
  containerId(id: string): string | undefined {
    return this.tasks.get(id)?.containerId;
  }

  /** Resolves with the task's final status. */
  wait(id: string): Promise<TaskStatus> {
    const t = this.tasks.get(id);
    return t ? t.done : Promise.reject(new Error(`no such task: ${id}`));
  }

  execCommand(id: string, req: ExecRequest): HostCommand {
    const task = this.tasks.get(id);
    if (!task) throw new Error(`no such task: ${id}`);
    if (task.status.state !== 'running' || !task.info) throw new Error(`Container ${task.containerId} is not running`);
    if (req.argv.length === 0) throw new Error('No exec command specified');
    if (req.user !== undefined && !/^\d{1,10}(:\d{1,10})?$/.test(req.user)) throw new Error(`invalid user "${req.user}": only numeric uid[:gid] is supported`);
    if (req.workingDir && !req.workingDir.startsWith('/')) throw new Error(`the working directory '${req.workingDir}' is invalid, it needs to be an absolute path`);
    // Docker's exec env: the container's, with TERM=xterm under a tty unless the container sets TERM, then the
    // exec's own entries (runc applies --env entries over the container's, later ones winning).
    const env = [
      ...(req.tty && !task.info.env.some((e) => e.startsWith('TERM=')) ? ['TERM=xterm'] : []),
      ...(req.env ?? []).filter((e) => e.indexOf('=') > 0),
    ];
    const args = this.runc.execArgs(task.containerId, {
      ...(req.user !== undefined ? { user: req.user } : {}),
      ...(req.workingDir ? { cwd: req.workingDir } : {}),
      env,
      argv: req.argv,
    });
    return { file: this.tools.runc, args, env: { PATH: DEFAULT_PATH } };
  }

  /**
   * Removes every stored image no task of this runtime uses (store.gc). Refused (null) while a start is between
   * its first step and knowing its image's digest; starts wait for a gc in progress.
   */
  gcImages(): Promise<GcResult> | null {
    if (this.resolving > 0) return null;
    const keep = [...this.tasks.values()].map((t) => t.digest).filter((d): d is string => d !== undefined);
    const p = this.store.gc(keep);
    this.gcRunning = p.catch(() => undefined);
    return p;
  }

  private setState(task: OciTask, state: TaskState, message: string, err?: string, pid?: number, exitCode?: number): TaskStatus {
    const s = nextStatus(task.status, state, message, err, pid, exitCode);
    task.status = s;
    const level = state === 'failed' || state === 'rejected' ? 'warn' : 'info';
    this.log[level]({ task: s.id, container: task.containerId, state, exitCode, err, pid: s.pid }, 'task state');
    if (state === 'running' || FINAL_STATES.has(state)) task.markStarted({ ...s });
    this.emit('status', { ...s });
    return s;
  }

  private end(task: OciTask, state: TaskState, message: string, err?: string, exitCode?: number): TaskStatus {
    if (FINAL_STATES.has(task.status.state)) return task.status;
    const s = this.setState(task, state, message, err, undefined, exitCode);
    task.finish({ ...s });
    return s;
  }
}

/** Docker's text for a task refused before it ran. */
function rejectText(err: unknown): string {
  if (err instanceof ImagePullError || err instanceof NoCommandError || err instanceof TaskSpecError || err instanceof ContainerPrepError) return err.message;
  return `preparing the container failed: ${(err as Error).message}`;
}

/** As a shell (and `docker run`): 127 for a program that is not there, 126 for one that cannot run. */
function startFailureCode(why: string, runcCode: number): number {
  if (/executable file not found|no such file or directory/i.test(why)) return 127;
  if (/permission denied/i.test(why)) return 126;
  return runcCode;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (osConstants.signals[signal] ?? 0) : 0;
}
