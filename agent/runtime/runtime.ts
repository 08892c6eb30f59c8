// The seam between the worker (assignments → tasks) and what runs a task: the OCI runtime (runc, containers from
// images: agent/runtime/oci/) and the process runtime (agent/executor/: host processes in their own namespaces, for
// hosts without runc). The worker, the node's Engine API (agent/engine-api/) and the log store only see this.
import type { EventEmitter } from 'node:events';
import type { TaskSpec, TaskStatus } from '../executor/spec.js';

export type RuntimeName = 'oci' | 'process';

/** What a runtime is asked to run: the process runtime's spec plus what a container needs. */
export interface RuntimeTaskSpec extends TaskSpec {
  /** Docker's container name for the task: SERVICE.SLOT.TASKID (SERVICE.NODEID.TASKID for global services). */
  name: string;
  /** The image reference, pinned by digest where the manager resolved it (required by the OCI runtime). */
  image?: string;
  /** Registry credentials for the pull (never logged, never in argv). */
  imageAuth?: { username?: string; password?: string; identitytoken?: string };
  /** Container labels: ContainerSpec.Labels plus Swarm's com.docker.swarm.* task labels. */
  labels?: Record<string, string>;
  /** Relative config targets (target relative, e.g. "app.conf"), bound one by one at /<target> inside a container
   * (Docker). source: an absolute path in the task's files folder (filesDir), as are absoluteMounts' sources; the
   * folder at secretsDir holds the task's relative secrets only (agent/worker/placement.ts). The worker gives none
   * to the process runtime, which keeps relative configs in the task's secrets folder. */
  configMounts?: Array<{ source: string; target: string }>;
}

/** One exec'd command, as the Engine API's exec routes need it. */
export interface ExecRequest {
  argv: string[];
  /** "uid[:gid]" (numeric); default: the task's user. */
  user?: string;
  /** Extra "K=V" entries over the task's environment. */
  env?: string[];
  workingDir?: string;
  tty: boolean;
}

/** How to run an exec'd command on the host: the caller spawns it with its own stdio (pipes, or a pty for tty). */
export interface HostCommand {
  file: string;
  args: string[];
  env?: Record<string, string>;
}

/** What `docker inspect` and `docker ps` need to know about a task's container. */
export interface ContainerInfo {
  /** Docker's 64-hex container ID (shared/container-id.ts, derived from the task ID). */
  containerId: string;
  taskId: string;
  name: string;
  image: string;
  /** The image's manifest digest (sha256:…), when the runtime ran an image. */
  imageDigest?: string;
  /** Entrypoint + Cmd as run. */
  path: string;
  args: string[];
  env: string[];
  user: string;
  workingDir: string;
  hostname: string;
  labels: Record<string, string>;
  created: string;
  startedAt?: string;
  finishedAt?: string;
  status: TaskStatus;
  pid?: number;
  mounts: Array<{ source: string; destination: string; rw: boolean }>;
}

export interface TaskRuntime extends EventEmitter {
  readonly name: RuntimeName;
  /** Prepares (for containers: pull, unpack, rootfs, bundle) and starts; resolves with the running status, or the
   * final one when it never ran (rejected with Docker's error text, e.g. "No such image: …"). Emits 'status'. */
  start(spec: RuntimeTaskSpec): Promise<TaskStatus>;
  /** SIGTERM, the grace period, SIGKILL; resolves with the final status. */
  stop(id: string): Promise<TaskStatus>;
  stopAll(): Promise<void>;
  /** Sends a signal to the running task's main process (the `signal:SIGNAME` secret-update mode, after its new
   * files are readable). Throws when the task is not running. */
  signal(id: string, signal: NodeJS.Signals): Promise<void>;
  /** Removes what is left of a finished task (container, writable layer) and forgets it. */
  remove(id: string): Promise<void>;
  status(id: string): TaskStatus | undefined;
  list(): TaskStatus[];
  inspect(id: string): ContainerInfo | undefined;
  /** The host command that runs argv inside the running task (its namespaces, root, user, env). Throws when the
   * task is not running. */
  execCommand(id: string, req: ExecRequest): HostCommand;
  on(event: 'status', listener: (s: TaskStatus) => void): this;
  /** The task's own output as it comes: the worker writes it to the log store. */
  on(event: 'output', listener: (o: { id: string; stream: 'stdout' | 'stderr'; chunk: Buffer }) => void): this;
  /** The task's main process exists (host pid), for the agent's record of tasks to kill after a crash. */
  on(event: 'launched', listener: (l: { id: string; pid: number }) => void): this;
}
