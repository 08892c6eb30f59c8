// Wires the manager-connected agent: join (or reuse the kept identity), mount the secrets filesystem, pick the task
// runtime, keep one session with the manager and hand its assignments to the worker (worker.ts), which turns them
// into task folders and tasks. While the manager is away nothing changes here: tasks keep running with their files.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from '../shared/log.js';
import type { RegistryRules } from '../shared/registry-rules.js';
import { errorMessage } from '../shared/errors.js';
import { acquirePidLock, AGENT_PID_FILE } from '../shared/pidlock.js';
import { ROOT_ONLY_MODE, SecretTree } from './secretstore/tree.js';
import { SecretFs } from './fs/secret-fs.js';
import { clearStaleMount } from './fs/stale-mount.js';
import { disableCoreDumps, gcOnSignal, stackScrubber } from './hardening.js';
import { TaskRecords } from './executor/task-records.js';
import type { TaskStatus } from './executor/spec.js';
import { joinAny, loadIdentity, pinManagerId, type ManagerAddr } from './session/join.js';
import { ManagerList } from './session/manager-list.js';
import { ManagerSession } from './session/session.js';
import { CertRenewal } from './session/cert-renewal.js';
import { startControlServer, type ControlServer } from './control/control-server.js';
import { defaultControlSocket } from './control/protocol.js';
import { startMetricsServer, type MetricsServer } from '../shared/metrics/server.js';
import { agentRegistry, assignmentApplySeconds } from './metrics.js';
import type { RuntimeName, TaskRuntime } from './runtime/runtime.js';
import { createRuntime } from './runtime/select.js';
import { Worker } from './worker.js';
import { execTarget } from './worker/exec-target.js';
import { FILES_FOLDER_SUFFIX } from './worker/placement.js';
import type { TaskLogSink } from './worker/log-sink.js';
import { startNodeEngine, type NodeEngine } from './engine-api/node-engine.js';
import type { Rotation } from './logs/index.js';
import { OciRuntime } from './runtime/oci/index.js';

/** How often images no task uses are removed from the OCI runtime's store. */
const IMAGE_GC_MS = 10 * 60_000;

export interface ManagedAgentOptions {
  /** The managers given (--manager, repeatable); those the cluster names are kept in the state dir and added. */
  managers: ManagerAddr[];
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
  /** The task runtime; absent: oci where runc is installed, else process (runtime/select.ts). */
  runtime?: RuntimeName;
  /** Where tasks' output goes besides the agent's own log store (engine-api); absent: only there. */
  logSink?: TaskLogSink;
  /** The node's Engine API socket (docker ps/exec/logs); default <stateDir>/docker.sock, "none": none. */
  engineSocket?: string;
  /** Task log rotation (--log-max-size, --log-max-file); default 10 MiB × 3 files. */
  taskLogRotation?: Partial<Rotation>;
  /** --insecure-registry / --registry-mirror (cli/registry-options.ts): the image store's RegistryRules for pulls;
   * absent: NO_RULES (loopback registries over HTTP, no mirror). */
  registry?: RegistryRules;
}

export interface ManagedAgent {
  nodeId: string;
  tree: SecretTree;
  runtime: TaskRuntime;
  /** Resolves once the first full state from the manager is applied (task folders in place): readiness. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

function countStates(list: TaskStatus[]): Array<[string, number]> {
  const n = new Map<string, number>();
  for (const t of list) n.set(t.state, (n.get(t.state) ?? 0) + 1);
  return [...n];
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
  const managers = new ManagerList(opts.stateDir, opts.managers, log.child({ part: 'session' }));
  let identity = loadIdentity(opts.stateDir);
  if (identity) log.info({ node: identity.nodeId, stateDir: opts.stateDir }, 'using the kept node identity');
  else {
    if (!opts.token) throw new Error(`no node identity in ${opts.stateDir}: give the join token (--token-file FILE, RUNSECRETS_TOKEN, or --token - on stdin) to join the cluster`);
    identity = await joinAny({ managers, token: opts.token, stateDir: opts.stateDir, hostname: opts.hostname, labels: opts.labels, log });
  }
  const runtime = createRuntime({
    ...(opts.runtime ? { name: opts.runtime } : {}),
    ...(opts.registry ? { registry: opts.registry } : {}),
    stateDir: opts.stateDir,
    log,
    hiddenPaths: [resolve(opts.stateDir)],
  });
  // Containers of a previous life of this agent: killed and removed (their overlays too) before anything starts.
  if (runtime instanceof OciRuntime) await runtime.recover();
  await clearStaleMount(mountPoint, log); // (refuses a mount still served: then no other agent's tasks are touched)
  // Tasks of a previous life of this agent (killed -9) still run with a dead mount: kill them before anything starts.
  // The manager still lists them here; the worker reports them failed, and the manager replaces them per restart
  // policy, as swarm does with a daemon's containers killed by the daemon's death (no in-place restart behind its back).
  const records = new TaskRecords(opts.stateDir);
  const diedWithAgent = new Set(records.ids());
  await records.killPreviousLife(log);
  const tree = new SecretTree({ rootMode: ROOT_ONLY_MODE });
  const fs = new SecretFs({ mountPoint, tree, log });
  await fs.mount();
  let session: ManagerSession | null = null;
  // The node's Engine API and task logs (agent/engine-api, agent/logs): docker ps/exec/logs here and, through the
  // session's tunnel, through the manager.
  const engine: NodeEngine = await startNodeEngine({
    stateDir: opts.stateDir,
    ...(opts.engineSocket ? { socket: opts.engineSocket } : {}),
    runtime,
    ...(opts.taskLogRotation ? { rotation: opts.taskLogRotation } : {}),
    send: (m) => session?.send(m) ?? false,
    log: log.child({ part: 'engine-api' }),
  });
  const extraSink = opts.logSink;
  const logSink: TaskLogSink = {
    write: (id, stream, chunk) => {
      engine.logs.write(id, stream, chunk);
      extraSink?.write(id, stream, chunk);
    },
    remove: (id) => {
      engine.logs.remove(id);
      extraSink?.remove(id);
    },
  };
  const worker = new Worker({
    nodeId: identity.nodeId,
    mountPoint,
    tree,
    publish: (n) => fs.publish(n),
    runtime,
    // Docker's place for relative configs (/<target>) needs the container's own root; on the host's, they stay in
    // the task's folder (worker/placement.ts).
    configs: runtime.name === 'oci' ? 'root' : 'secrets-folder',
    records,
    diedWithAgent,
    send: (msg) => void session?.send(msg),
    scrubSoon,
    log,
    logSink,
    nodeHostname: opts.hostname,
  });
  void worker.synced.then(() => engine.logs.prune((id) => worker.tasks().some((t) => t.a.id === id))); // logs of tasks gone
  const imageGc = runtime instanceof OciRuntime
    ? setInterval(() => void runtime.gcImages()?.catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'image gc failed')), IMAGE_GC_MS).unref()
    : null;

  // The metrics listener before the session: a bad --metrics-listen fails the start before any task runs.
  let isSynced = false;
  void worker.synced.then(() => (isSynced = true));
  let metrics: MetricsServer | null = null;
  if (opts.metricsListen) {
    const registry = agentRegistry({
      mode: 'managed',
      taskFolders: () => tree.taskNames().filter((n) => !n.endsWith(FILES_FOLDER_SUFFIX)).length,
      inodes: () => tree.inodeCount,
      tasksByState: () => countStates(runtime.list()),
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
  const certs = new CertRenewal({ stateDir: opts.stateDir, identity, log: log.child({ part: 'certs' }), send: (m) => session?.send(m) ?? false });
  session = new ManagerSession({
    manager: managers,
    identity,
    log: log.child({ part: 'session' }),
    onAssign: (msg, blobs) => assignmentApplySeconds.time(() => worker.apply(msg, blobs)),
    onConnected: () => {
      worker.resend();
      certs.onConnected(session?.managerRenews ?? false);
    },
    onCert: (m) => certs.onMessage(m),
    onPinManager: (id) => pinManagerId(opts.stateDir, id),
    onStream: (m) => engine.onTunnel(m),
    onDisconnected: () => engine.onDisconnected(),
  });
  session.start();
  certs.start();

  let control: ControlServer | null = null;
  const nodeId = identity.nodeId;
  try {
    control = await startControlServer({
      path: opts.controlSocket ?? defaultControlSocket(opts.stateDir),
      log: log.child({ part: 'control' }),
      execTarget: (query, exec) => execTarget(query, worker.tasks(), runtime, nodeId, exec),
    });
  } catch (err) {
    // Tasks matter more than exec: run without it, loudly.
    log.error({ err: errorMessage(err) }, 'control socket not started: task exec is unavailable');
  }

  let stopping: Promise<void> | null = null;
  return {
    nodeId,
    tree,
    runtime,
    synced: worker.synced,
    stop: () =>
      (stopping ??= (async () => {
        await control?.close();
        await metrics?.close();
        if (imageGc) clearInterval(imageGc);
        await engine.close();
        await worker.stop();
        certs.stop();
        await session?.stop();
        try {
          await fs.unmount();
        } finally {
          tree.wipeAll(); // bytes zeroed even when the unmount failed
          worker.wipe();
        }
      })()),
  };
}
