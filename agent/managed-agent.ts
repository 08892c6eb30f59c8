// Wires the manager-connected agent: join (or reuse the kept identity), mount the secrets filesystem, keep one
// session with the manager, and turn its assignments into task folders and running tasks.
//
// Task folders are named by task ID (MOUNT/<task ID>): unique, stable across updates, and what `task exec` and
// the API's task IDs name. A task's files are put in place and published before it starts; a secrets-only
// update rewrites them in place (setTask again, no restart); a stop or removal stops the process, then removes
// the folder (bytes zeroed). While the manager is away nothing changes here: tasks keep running with their files.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../shared/log.js';
import type { RegistryRules } from '../shared/registry-rules.js';
import { errorMessage } from '../shared/errors.js';
import { acquirePidLock, AGENT_PID_FILE } from '../shared/pidlock.js';
import { clipStatusText, taskFolderName, type FileRef, type TaskAssignment } from '../shared/protocol.js';
import { fileTargetProblem } from '../shared/file-target.js';
import { ROOT_ONLY_MODE, SecretTree, type FileSpec } from './secretstore/tree.js';
import { ownedCopy } from './secretstore/bytes.js';
import { SecretFs } from './fs/secret-fs.js';
import { clearStaleMount } from './fs/stale-mount.js';
import { disableCoreDumps, gcOnSignal, stackScrubber } from './hardening.js';
import { Executor } from './executor/executor.js';
import { TaskRecords } from './executor/task-records.js';
import { FINAL_STATES, parseUser, type TaskSpec as ExecSpec, type TaskStatus } from './executor/spec.js';
import { joinCluster, loadIdentity, pinManagerId, type ManagerAddr } from './session/join.js';
import { ManagerSession, type AssignMessage } from './session/session.js';
import { startControlServer, type ControlServer } from './control/control-server.js';
import { defaultControlSocket, processStartTime, type ExecTarget } from './control/protocol.js';
import { resolveTask, taskName } from './control/resolve-task.js';
import { startMetricsServer, type MetricsServer } from '../shared/metrics/server.js';
import { agentRegistry, assignmentApplySeconds } from './metrics.js';
import { startNodeEngine, type NodeEngine } from './engine-api/node-engine.js';
import type { Rotation } from './logs/index.js';
import { describeAssignment, executorRuntime, type TaskDescription } from './engine-api/executor-runtime.js';

/** Absolute targets are kept under this folder of the task's folder and bound from there to their place. */
export const ABSOLUTE_DIR = '.absolute';

export interface ManagedAgentOptions {
  manager: ManagerAddr;
  /** The join token, used once to join and then dropped (the node's identity is its certificate). */
  token?: string;
  stateDir: string;
  mountPoint: string;
  hostname: string;
  labels: Record<string, string>;
  log: Logger;
  /** The local control socket (`task exec`); default <stateDir>/agent.sock. */
  controlSocket?: string;
  /** HOST:PORT for /metrics, /healthz and /readyz; absent: none. */
  metricsListen?: string;
  /** --insecure-registry / --registry-mirror (cli/registry-options.ts): the image store's RegistryRules for pulls;
   * absent: NO_RULES (loopback registries over HTTP, no mirror). */
  registry?: RegistryRules;
  /** The node's Engine API socket (docker ps/exec/logs); default <stateDir>/docker.sock, "none": none. */
  engineSocket?: string;
  /** Task log rotation (--log-max-size, --log-max-file); default 10 MiB × 3 files. */
  taskLogRotation?: Partial<Rotation>;
}

interface LocalTask {
  a: TaskAssignment;
  started: boolean;
  finished: boolean;
  removed: boolean;
  last?: TaskStatus;
}

export interface ManagedAgent {
  nodeId: string;
  tree: SecretTree;
  executor: Executor;
  /** Resolves once the first full state from the manager is applied (task folders in place): readiness. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

function countStates(list: TaskStatus[]): Array<[string, number]> {
  const n = new Map<string, number>();
  for (const t of list) n.set(t.state, (n.get(t.state) ?? 0) + 1);
  return [...n];
}

/** The path of a file reference inside the task folder (absolute targets go under ABSOLUTE_DIR), or null. */
function treePath(f: FileRef): string | null {
  if (fileTargetProblem(f.kind, f.target) !== null) return null;
  return f.target.startsWith('/') ? `${ABSOLUTE_DIR}${f.target}` : f.target;
}

/** Why one of the task's files cannot be placed (its target's shape), or null. */
function filesProblem(a: TaskAssignment): string | null {
  for (const f of a.files) {
    const problem = fileTargetProblem(f.kind, f.target);
    if (problem) return problem;
  }
  return null;
}

/** Starts the agent holding <stateDir>/agent.pid: a second agent on the same state dir is refused before it
 * touches the mount or the first one's tasks. */
export async function startManagedAgent(opts: ManagedAgentOptions): Promise<ManagedAgent> {
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  const release = acquirePidLock(opts.stateDir, AGENT_PID_FILE, 'agent');
  try {
    const agent = await startLocked(opts);
    return {
      ...agent,
      stop: async () => {
        try {
          await agent.stop();
        } finally {
          release();
        }
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

async function startLocked(opts: ManagedAgentOptions): Promise<ManagedAgent> {
  const log = opts.log;
  const mountPoint = resolve(opts.mountPoint);
  disableCoreDumps(log);
  gcOnSignal(log);
  const scrubSoon = stackScrubber(log);
  let identity = loadIdentity(opts.stateDir);
  if (identity) log.info({ node: identity.nodeId, stateDir: opts.stateDir }, 'using the kept node identity');
  else {
    if (!opts.token) throw new Error(`no node identity in ${opts.stateDir}: give the join token (--token-file FILE, RUNSECRETS_TOKEN, or --token - on stdin) to join the cluster`);
    identity = await joinCluster({ manager: opts.manager, token: opts.token, stateDir: opts.stateDir, hostname: opts.hostname, labels: opts.labels, log });
  }
  await clearStaleMount(mountPoint, log); // (refuses a mount still served: then no other agent's tasks are touched)
  // Tasks of a previous life of this agent (killed -9) still run with a dead mount: kill them before anything starts.
  // The manager still lists them here; they are reported failed below, and it replaces them per restart policy, as
  // swarm does with a daemon's containers killed by the daemon's death (no in-place restart behind its back).
  const records = new TaskRecords(opts.stateDir);
  const diedWithAgent = new Set(records.ids());
  await records.killPreviousLife(log);
  const tree = new SecretTree({ rootMode: ROOT_ONLY_MODE });
  const fs = new SecretFs({ mountPoint, tree, log });
  await fs.mount();
  const executor = new Executor({ logger: log.child({ part: 'executor' }), hiddenPaths: [resolve(opts.stateDir)] });
  const objects = new Map<string, { version: number; data: Buffer }>();
  const tasks = new Map<string, LocalTask>();
  let session: ManagerSession | null = null;
  let markSynced: () => void = () => undefined;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));

  const report = (s: TaskStatus): void => {
    const msg: Parameters<ManagerSession['send']>[0] = { type: 'status', taskId: s.id, state: s.state, message: clipStatusText(s.message) };
    if (s.err !== undefined) msg.err = clipStatusText(s.err);
    if (s.exitCode !== undefined) msg.exitCode = s.exitCode;
    session?.send(msg);
  };

  const removeFolder = async (id: string): Promise<void> => fs.publish(tree.removeTask(taskFolderName(id)));

  executor.on('launched', (l) => records.add(l.id, l.pid));
  executor.on('status', (s) => {
    if (FINAL_STATES.has(s.state)) records.remove(s.id);
    const t = tasks.get(s.id);
    if (t) t.last = s;
    report(s);
    if (FINAL_STATES.has(s.state) && t) {
      t.finished = true;
      // A finished task's folder goes at once (bytes zeroed); the manager replaces the task per its policy.
      void removeFolder(s.id).catch((err) => log.error({ err: errorMessage(err), task: s.id }, 'removing a task folder failed'));
    }
  });

  /** Puts (or rewrites in place) a task's files: one fresh copy of the bytes per file, owned by the tree. */
  const applyFiles = async (t: LocalTask): Promise<void> => {
    let owner = { uid: 0, gid: 0 };
    try {
      owner = parseUser(t.a.user);
    } catch {
      /* the executor rejects the task with the user's error; the folder stays root's */
    }
    const files: FileSpec[] = [];
    for (const f of t.a.files) {
      const obj = objects.get(`${f.kind}/${f.id}`);
      const target = treePath(f);
      if (!target) continue; // the task is rejected for it (filesProblem) before it starts
      if (!obj) {
        log.warn({ task: t.a.id, kind: f.kind, id: f.id }, 'referenced object not received: skipped');
        continue;
      }
      files.push({ target, data: ownedCopy(obj.data), uid: f.uid, gid: f.gid, mode: f.mode });
    }
    await fs.publish(tree.setTask(taskFolderName(t.a.id), { uid: owner.uid, gid: owner.gid, files }));
  };

  const start = (t: LocalTask): void => {
    t.started = true;
    const a = t.a;
    const spec: ExecSpec = {
      id: a.id,
      secretsDir: join(mountPoint, taskFolderName(a.id)),
      secretMounts: true, // the whole folder at /run/secrets, so secrets granted later appear too
      absoluteMounts: a.files
        .filter((f) => f.target.startsWith('/'))
        .map((f) => ({ source: treePath(f) ?? '', target: f.target }))
        .filter((m) => m.source !== ''),
    };
    if (a.command) spec.command = a.command;
    if (a.args) spec.args = a.args;
    if (a.env) spec.env = a.env;
    if (a.dir) spec.dir = a.dir;
    if (a.user) spec.user = a.user;
    if (a.stopGracePeriodMs !== undefined) spec.stopGracePeriodMs = a.stopGracePeriodMs;
    executor.start(spec).catch((err) => {
      log.error({ err: errorMessage(err), task: a.id }, 'task start failed');
      report({ id: a.id, state: 'rejected', message: 'rejected', err: errorMessage(err), timestamp: new Date().toISOString() });
    });
  };

  /** A task whose process died with the previous agent: failed, never started again under the same ID. */
  const failDiedWithAgent = (t: LocalTask): void => {
    t.started = true;
    t.finished = true;
    t.last = { id: t.a.id, state: 'failed', message: 'failed', err: 'task process killed: the agent was restarted', timestamp: new Date().toISOString() };
    report(t.last);
    diedWithAgent.delete(t.a.id);
    records.remove(t.a.id);
    log.warn({ task: t.a.id }, 'task reported failed: its process died with the previous agent');
  };

  /** Stops a task the manager no longer wants here, then removes its folder. Runs in the background. */
  const drop = (id: string): void => {
    if (diedWithAgent.delete(id)) records.remove(id);
    const t = tasks.get(id);
    if (!t || t.removed) return;
    t.removed = true;
    tasks.delete(id);
    void (async () => {
      try {
        const st = executor.status(id);
        if (st && !FINAL_STATES.has(st.state)) await executor.stop(id);
      } catch (err) {
        log.error({ err: errorMessage(err), task: id }, 'stopping a task failed');
      }
      await removeFolder(id);
      executor.forget(id);
      engine.logs.remove(id);
      log.info({ task: id }, 'task removed');
    })().catch((err) => log.error({ err: errorMessage(err), task: id }, 'removing a task failed'));
  };

  const onAssign = (msg: AssignMessage, blobs: Uint8Array[]): Promise<void> => assignmentApplySeconds.time(() => applyAssignment(msg, blobs));

  const applyAssignment = async (msg: AssignMessage, blobs: Uint8Array[]): Promise<void> => {
    const changedObjects = new Set<string>();
    let droppedBytes = false;
    const listed = new Set<string>();
    for (const o of msg.objects) {
      const src = blobs[o.blob];
      if (!src || (o.kind !== 'secret' && o.kind !== 'config')) continue;
      const key = `${o.kind}/${o.id}`;
      listed.add(key);
      const old = objects.get(key);
      if (old && old.version === o.version && old.data.equals(src)) continue;
      old?.data.fill(0);
      objects.set(key, { version: o.version, data: ownedCopy(src) });
      changedObjects.add(key);
    }
    const dropObject = (key: string): void => {
      objects.get(key)?.data.fill(0);
      objects.delete(key);
      droppedBytes = true;
    };
    for (const r of msg.removeObjects) dropObject(`${r.kind}/${r.id}`);
    if (msg.full) for (const key of [...objects.keys()]) if (!listed.has(key)) dropObject(key);

    const wanted = new Set(msg.tasks.map((a) => a.id));
    for (const id of msg.removeTasks) drop(id);
    if (msg.full) for (const id of [...tasks.keys(), ...diedWithAgent]) if (!wanted.has(id)) drop(id);

    const touched = new Set<LocalTask>();
    for (const a of msg.tasks) {
      let t = tasks.get(a.id);
      if (!t) {
        t = { a, started: false, finished: false, removed: false };
        tasks.set(a.id, t);
      } else t.a = a;
      touched.add(t);
    }
    for (const t of tasks.values()) {
      if (t.a.files.some((f) => changedObjects.has(`${f.kind}/${f.id}`))) touched.add(t);
    }
    for (const t of touched) {
      if (t.finished || t.removed) continue;
      if (!t.started && diedWithAgent.has(t.a.id)) {
        failDiedWithAgent(t);
        continue;
      }
      const problem = t.started ? null : filesProblem(t.a);
      if (problem) {
        // A task never runs without a file it was given: rejected with the reason, which `service ps` shows.
        t.started = true;
        t.finished = true;
        t.last = { id: t.a.id, state: 'rejected', message: 'rejected', err: problem, timestamp: new Date().toISOString() };
        report(t.last);
        log.warn({ task: t.a.id, err: problem }, 'task rejected: a file cannot be placed');
        continue;
      }
      await applyFiles(t); // files first, published: the task finds them from its first instruction
      if (!t.started && t.a.desiredState === 'running') start(t);
    }
    // Received secret bytes also sit on the stack where Node decrypted them (hardening.ts).
    if (droppedBytes || msg.objects.length > 0) scrubSoon();
    log.debug({ full: msg.full, tasks: tasks.size, objects: objects.size }, 'assignments applied');
    if (msg.full) markSynced();
  };

  // The metrics listener before the session: a bad --metrics-listen fails the start before any task runs.
  let isSynced = false;
  void synced.then(() => (isSynced = true));
  let metrics: MetricsServer | null = null;
  if (opts.metricsListen) {
    const registry = agentRegistry({
      mode: 'managed',
      taskFolders: () => tree.taskNames().length,
      inodes: () => tree.inodeCount,
      tasksByState: () => countStates(executor.list()),
      connected: () => session?.isConnected ?? false,
      heartbeatAgeSeconds: () => session?.lastHeardSecondsAgo ?? null,
    });
    const notReady = (): string | null => (isSynced ? null : 'waiting for the first state from the manager');
    try {
      metrics = await startMetricsServer({ listen: opts.metricsListen, registry, notReady, log });
    } catch (err) {
      // Before the session: no task has started, nothing was received.
      await fs.unmount().catch(() => undefined);
      tree.wipeAll();
      throw err;
    }
  }
  // The node's Engine API and task logs (agent/engine-api, agent/logs); the worker's runtime replaces the adapter.
  const describe = (id: string): TaskDescription | undefined => {
    const a = tasks.get(id)?.a;
    return a && describeAssignment(a, identity.nodeId);
  };
  const engine: NodeEngine = await startNodeEngine({ stateDir: opts.stateDir, ...(opts.engineSocket ? { socket: opts.engineSocket } : {}), runtime: executorRuntime(executor, describe), ...(opts.taskLogRotation ? { rotation: opts.taskLogRotation } : {}), send: (m) => session?.send(m) ?? false, log: log.child({ part: 'engine-api' }) });
  executor.on('output', (o) => engine.logs.write(o.id, o.stream, o.chunk));
  void synced.then(() => engine.logs.prune((id) => tasks.has(id))); // logs of tasks this node no longer has
  session = new ManagerSession({
    manager: opts.manager,
    identity,
    log: log.child({ part: 'session' }),
    onAssign,
    onConnected: () => {
      // Reports sent while disconnected were lost: send every task's current state again (states only move on).
      for (const t of tasks.values()) if (t.last) report(t.last);
    },
    onPinManager: (id) => pinManagerId(opts.stateDir, id),
    onStream: (m) => engine.onTunnel(m),
    onDisconnected: () => engine.onDisconnected(),
  });
  session.start();

  /** The running task a `task exec` argument names, among this node's tasks (control socket). */
  const execTarget = (query: string): ExecTarget => {
    const known = [...tasks.values()].map((t) => ({ id: t.a.id, serviceName: t.a.serviceName, slot: t.a.slot, wanted: t.a.desiredState === 'running' && !t.finished }));
    const k = resolveTask(query, known, identity.nodeId);
    const name = taskName(k, identity.nodeId);
    const st = executor.status(k.id);
    if (st?.state !== 'running') throw new Error(`task ${k.id} (${name}) is not running (state ${st?.state ?? 'not started yet'})`);
    const x = executor.execTarget(k.id);
    const pidStart = processStartTime(x.pid);
    if (pidStart === null) throw new Error(`task ${k.id} (${name}) is not running (its process ${x.pid} is gone)`);
    return { id: k.id, name, pidStart, ...x };
  };
  let control: ControlServer | null = null;
  try {
    control = await startControlServer({ path: opts.controlSocket ?? defaultControlSocket(opts.stateDir), log: log.child({ part: 'control' }), execTarget });
  } catch (err) {
    // Tasks matter more than exec: run without it, loudly.
    log.error({ err: errorMessage(err) }, 'control socket not started: task exec is unavailable');
  }

  let stopping: Promise<void> | null = null;
  return {
    nodeId: identity.nodeId,
    tree,
    executor,
    synced,
    stop: () =>
      (stopping ??= (async () => {
        await control?.close();
        await metrics?.close();
        await engine.close();
        await executor.stopAll().catch((err) => log.error({ err: errorMessage(err) }, 'stopping tasks failed'));
        await session?.stop();
        try {
          await fs.unmount();
        } finally {
          tree.wipeAll(); // bytes zeroed even when the unmount failed
          for (const o of objects.values()) o.data.fill(0);
          objects.clear();
        }
      })()),
  };
}
