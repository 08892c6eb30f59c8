// The worker (as swarmkit's agent/worker.go): turns the manager's assignments into task folders on the secrets
// mount and tasks on a runtime, and reports their states. Its parts: the received bytes (worker/objects.ts), where
// files go (worker/placement.ts), the task table's decisions (worker/task-table.ts), the runtime's spec
// (worker/task-spec.ts). Knows nothing of the session or the mount's process: what it needs is passed in.
//
// Task folders are named by task ID (MOUNT/<task ID>): unique, stable across updates, and what `task exec` and the
// API's task IDs name. A task's files are put in place and published before it starts; a secrets-only update
// rewrites them in place (no restart); a stop or removal stops the task, then removes its folders (bytes zeroed).
import { constants as osConstants } from 'node:os';
import type { Logger } from '../shared/log.js';
import { errorMessage } from '../shared/errors.js';
import { clipStatusText, taskFolderName, type AgentMessage, type TaskAssignment } from '../shared/protocol.js';
import { parseUser, FINAL_STATES, type TaskStatus } from './executor/spec.js';
import type { TaskRecords } from './executor/task-records.js';
import type { TaskRuntime } from './runtime/runtime.js';
import type { KernelNotice, SecretTree, FileSpec } from './secretstore/tree.js';
import { ownedCopy, wipe } from './secretstore/bytes.js';
import { ContainerSpecExpandError, expandContainerSpec } from './template/container-spec.js';
import { expandObject, hostPlatform, TemplateExpandError, type TemplateNode } from './template/payload.js';
import { hostname } from 'node:os';
import type { AssignMessage } from './session/session.js';
import { ObjectCache } from './worker/objects.js';
import { filesFolderName, placeFiles, type ConfigPlace, type PlacedFile } from './worker/placement.js';
import { TaskTable, type LocalTask, type Step } from './worker/task-table.js';
import { runtimeSpec } from './worker/task-spec.js';
import { NO_LOGS, type TaskLogSink } from './worker/log-sink.js';

export type StatusMessage = Extract<AgentMessage, { type: 'status' }>;

export interface WorkerOptions {
  nodeId: string;
  /** The secrets mount (absolute). */
  mountPoint: string;
  tree: SecretTree;
  /** Makes tree changes visible (the mount's kernel notifications); resolves once delivered. */
  publish(notices: KernelNotice[]): Promise<void>;
  runtime: TaskRuntime;
  /** Where relative configs go: the runtime's choice (placement.ts). */
  configs: ConfigPlace;
  /** The agent's record of task processes (killed by the next life of the agent after a crash). */
  records: TaskRecords;
  /** Task IDs whose processes died with the previous agent (and were killed). */
  diedWithAgent: Set<string>;
  /** Sends a status to the manager (dropped while disconnected: resend() follows the reconnection). */
  send(msg: StatusMessage): void;
  /** Received secret bytes also sit on the stack where Node decrypted them: scrub it soon (hardening.ts). */
  scrubSoon(): void;
  log: Logger;
  logSink?: TaskLogSink;
  /** This node's hostname as it joined (templates' .Node.Hostname); default: the host's. */
  nodeHostname?: string;
}

export class Worker {
  private readonly objects = new ObjectCache();
  private readonly table: TaskTable;
  private readonly logs: TaskLogSink;
  private markSynced: () => void = () => undefined;
  /** Resolves once the first full state from the manager is applied (task folders in place): readiness. */
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));

  constructor(private readonly o: WorkerOptions) {
    this.table = new TaskTable(o.diedWithAgent, o.configs);
    this.logs = o.logSink ?? NO_LOGS;
    o.runtime.on('launched', (l) => o.records.add(l.id, l.pid));
    o.runtime.on('status', (s) => this.onStatus(s));
    o.runtime.on('output', (x) => this.logs.write(x.id, x.stream, x.chunk));
  }

  /** This node's tasks as the table knows them (for `task exec` lookups and metrics). */
  tasks(): LocalTask[] {
    return this.table.values();
  }

  get objectCount(): number {
    return this.objects.size;
  }

  /** Applies one assignment message; blobs are the frame's (copied, never kept). */
  async apply(msg: AssignMessage, blobs: Uint8Array[]): Promise<void> {
    const { changed, dropped } = this.objects.apply(msg.objects, blobs, msg.removeObjects, msg.full);
    const steps = this.table.plan(msg, changed);
    for (const step of steps) await this.run(step);
    if (dropped || msg.objects.length > 0) this.o.scrubSoon();
    this.o.log.debug({ full: msg.full, tasks: this.table.size, objects: this.objects.size }, 'assignments applied');
    if (msg.full) this.markSynced();
  }

  /** Reports sent while disconnected were lost: every task's current state again (states only move on). */
  resend(): void {
    for (const t of this.table.values()) if (t.last) this.report(t.last);
  }

  /** Stops every task, then zeroes the received bytes (the mount's own bytes are the wiring's to wipe). */
  async stop(): Promise<void> {
    await this.o.runtime.stopAll().catch((err) => this.o.log.error({ err: errorMessage(err) }, 'stopping tasks failed'));
    this.objects.wipeAll();
  }

  /** Drops the received bytes only (a start that failed before any task ran). */
  wipe(): void {
    this.objects.wipeAll();
  }

  private async run(step: Step): Promise<void> {
    const log = this.o.log;
    switch (step.kind) {
      case 'drop':
        if (step.diedWithAgent) this.o.records.remove(step.id);
        if (step.known) void this.remove(step.id);
        return;
      case 'died-with-agent':
        this.o.records.remove(step.task.a.id);
        this.report(step.status);
        log.warn({ task: step.task.a.id }, 'task reported failed: its process died with the previous agent');
        return;
      case 'reject':
        this.report(step.status);
        log.warn({ task: step.task.a.id, err: step.status.err }, 'task rejected: a file cannot be placed');
        return;
      case 'files':
        // Files first, published: the task finds them from its first instruction. A templated file that cannot be
        // rendered fails a starting task (Docker's FAILED, at container start) and leaves a running one's files.
        if (step.start) {
          const spec = this.expandSpec(step.task);
          if (spec && (await this.putFiles(step.task, true))) this.start(step.task, spec);
        } else if ((await this.putFiles(step.task, false)) && step.refreshed && step.task.a.refreshSignal) {
          await this.refreshSignal(step.task.a.id, step.task.a.refreshSignal);
        }
        return;
    }
  }

  /** The `signal:SIGNAME` mode: the new files are published (readable), now the task's main process hears it. */
  private async refreshSignal(id: string, name: string): Promise<void> {
    const sig = name as NodeJS.Signals;
    if (!(name in osConstants.signals)) {
      this.o.log.warn({ task: id, signal: name }, 'unknown refresh signal: not sent');
      return;
    }
    try {
      await this.o.runtime.signal(id, sig);
      this.o.log.info({ task: id, signal: name }, 'files changed in place: signal sent');
    } catch (err) {
      this.o.log.warn({ task: id, signal: name, err: errorMessage(err) }, 'files changed in place: signal not sent');
    }
  }

  private onStatus(s: TaskStatus): void {
    const final = FINAL_STATES.has(s.state);
    if (final) this.o.records.remove(s.id);
    const t = this.table.noteStatus(s, final);
    this.report(s);
    // A finished task's folders go at once (bytes zeroed); the manager replaces the task per its policy.
    if (t) void this.removeFolders(s.id).catch((err) => this.o.log.error({ err: errorMessage(err), task: s.id }, 'removing a task folder failed'));
  }

  private report(s: TaskStatus): void {
    const msg: StatusMessage = { type: 'status', taskId: s.id, state: s.state, message: clipStatusText(s.message) };
    if (s.err !== undefined) msg.err = clipStatusText(s.err);
    if (s.exitCode !== undefined) msg.exitCode = s.exitCode;
    this.o.send(msg);
  }

  /** The assignment with its ContainerSpec templates expanded (Env values, Hostname), or null when that failed: the
   * task is then rejected with Docker's Err, before any file of it is put. */
  private expandSpec(t: LocalTask): TaskAssignment | null {
    try {
      return expandContainerSpec(t.a, this.templateNode);
    } catch (err) {
      if (!(err instanceof ContainerSpecExpandError)) throw err;
      this.o.log.warn({ task: t.a.id }, 'task rejected: its container spec templates cannot be expanded'); // env values stay out of logs
      this.onStatus({ id: t.a.id, state: 'rejected', message: 'resolving controller failed', err: err.message, timestamp: new Date().toISOString() });
      return null;
    }
  }

  /** Starts the task as a (the assignment after ContainerSpec expansion). */
  private start(t: LocalTask, a: TaskAssignment): void {
    const spec = runtimeSpec(a, { mountPoint: this.o.mountPoint, nodeId: this.o.nodeId, configs: this.o.configs });
    this.o.runtime.start(spec).catch((err) => {
      this.o.log.error({ err: errorMessage(err), task: a.id }, 'task start failed');
      this.report({ id: a.id, state: 'rejected', message: 'rejected', err: errorMessage(err), timestamp: new Date().toISOString() });
    });
  }

  /**
   * Puts (or rewrites in place) a task's files in its two folders: one fresh Buffer per file (a copy, or the
   * rendering of a templated object), owned by the tree. False when a template failed: nothing is changed, and a
   * starting task is reported failed with Docker's Err.
   */
  private async putFiles(t: LocalTask, starting: boolean): Promise<boolean> {
    let owner = { uid: 0, gid: 0 };
    try {
      owner = parseUser(t.a.user);
    } catch {
      /* the runtime rejects the task with the user's error; the folder stays root's */
    }
    const placed = placeFiles(t.a, this.o.configs);
    let folder: FileSpec[] = [];
    let files: FileSpec[] = [];
    try {
      folder = this.fileSpecs(t, placed.folder);
      files = this.fileSpecs(t, placed.files);
    } catch (err) {
      for (const f of [...folder, ...files]) wipe(f.data);
      if (!(err instanceof TemplateExpandError)) throw err;
      // The object, never the text: a template's error quotes its actions, and the template may be a secret.
      this.o.log.warn({ task: t.a.id, starting }, starting ? 'task failed: a templated file cannot be rendered' : 'a templated file cannot be rendered: the task keeps its files');
      if (starting) this.onStatus({ id: t.a.id, state: 'failed', message: 'starting', err: err.message, timestamp: new Date().toISOString() });
      return false;
    }
    const { tree, publish } = this.o;
    await publish(tree.setTask(taskFolderName(t.a.id), { uid: owner.uid, gid: owner.gid, files: folder }));
    const filesName = filesFolderName(t.a.id);
    // Root's: nothing in it is reached by listing it, only through the binds the runtime makes as root.
    if (placed.files.length > 0) await publish(tree.setTask(filesName, { uid: 0, gid: 0, files }));
    else if (tree.hasTask(filesName)) await publish(tree.removeTask(filesName));
    return true;
  }

  /** The files' specs; throws a TemplateExpandError (after wiping what it rendered) when a template fails. */
  private fileSpecs(t: LocalTask, placed: PlacedFile[]): FileSpec[] {
    const out: FileSpec[] = [];
    try {
      for (const { ref, path } of placed) {
        const data = this.objects.get(ref.kind, ref.id);
        if (!data) {
          this.o.log.warn({ task: t.a.id, kind: ref.kind, id: ref.id }, 'referenced object not received: skipped');
          continue;
        }
        const driver = this.objects.templating(ref.kind, ref.id);
        const bytes = driver === undefined ? ownedCopy(data) : expandObject(ref, data, driver, t.a, this.templateNode, (k, id) => this.objects.get(k, id));
        out.push({ target: path, data: bytes, uid: ref.uid, gid: ref.gid, mode: ref.mode });
      }
    } catch (err) {
      for (const f of out) wipe(f.data);
      throw err;
    }
    return out;
  }

  /** This node as templates see it. */
  private get templateNode(): TemplateNode {
    return { id: this.o.nodeId, hostname: this.o.nodeHostname ?? hostname(), ...hostPlatform() };
  }

  private async removeFolders(id: string): Promise<void> {
    const { tree, publish } = this.o;
    await publish(tree.removeTask(taskFolderName(id)));
    await publish(tree.removeTask(filesFolderName(id)));
  }

  /** Stops a task the manager no longer wants here, removes its folders, then forgets it. In the background. */
  private async remove(id: string): Promise<void> {
    const { runtime, log } = this.o;
    try {
      try {
        const st = runtime.status(id);
        if (st && !FINAL_STATES.has(st.state)) await runtime.stop(id);
      } catch (err) {
        log.error({ err: errorMessage(err), task: id }, 'stopping a task failed');
      }
      await this.removeFolders(id);
      if (runtime.status(id)) await runtime.remove(id);
      this.logs.remove(id);
      log.info({ task: id }, 'task removed');
    } catch (err) {
      log.error({ err: errorMessage(err), task: id }, 'removing a task failed');
    }
  }
}
