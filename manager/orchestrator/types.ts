// Services, tasks and nodes as the store keeps them. Docker's JSON shapes where Docker shows them; a few fields of
// our own (restart counts, restart delays, certificate serials) that the API never returns.

/** Docker's task states in their order (swarmkit api/types.proto); a task only ever moves forward. */
export const TASK_STATES = [
  'new',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export function stateRank(s: TaskState): number {
  return TASK_STATES.indexOf(s);
}
export function isTaskState(s: string): s is TaskState {
  return (TASK_STATES as readonly string[]).includes(s);
}
/** Past running: the task's process is gone (complete, shutdown, failed, rejected, remove, orphaned). */
export function isFinished(s: TaskState): boolean {
  return stateRank(s) > stateRank('running');
}

/** The service spec exactly as the client sent it (after validation), so unknown fields round-trip. */
export type ServiceSpec = Record<string, unknown> & { Name: string };

/** Docker's UpdateStatus states (swarmkit api.UpdateStatus_UpdateState, lower-cased as the API shows them). */
export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

/** Docker's UpdateStatus: absent on a new service and after an update that replaced no task. */
export interface UpdateStatus {
  State: UpdateState;
  StartedAt?: string;
  CompletedAt?: string;
  Message?: string;
}

export interface ServiceRecord {
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  /** Written by the rolling updater (orchestrator/update.ts); reset by every update that is not a rollback. */
  UpdateStatus?: UpdateStatus;
  /** Ours: the X-Registry-Auth value sent with `--with-registry-auth` (Docker's ContainerSpec.PullOptions.RegistryAuth),
   * for Spec and for PreviousSpec. Sealed with the row like every stored object; never returned by the API, never
   * logged; sent only to the nodes that run the service's tasks (dispatcher/assignments.ts). */
  pullAuth?: string;
  previousPullAuth?: string;
  /** Docker's JobStatus, job modes only: set at create, Index incremented by every update (a new run of the job). */
  JobStatus?: JobStatus;
}

/** Docker's JobStatus; Index 0 shows as `"JobIteration":{}` (Go's omitempty). */
export interface JobStatus {
  JobIteration: { Index: number };
  LastExecution: string;
}

export interface TaskStatus {
  Timestamp: string;
  State: TaskState;
  Message: string;
  Err?: string;
  ContainerStatus?: { ExitCode: number };
}

export interface TaskRecord {
  ServiceID: string;
  Slot: number; // 0 for global tasks
  NodeID: string; // '' until scheduled (global tasks are created with theirs)
  Labels: Record<string, string>;
  Spec: Record<string, unknown>; // the service's TaskTemplate when the task was made
  ServiceName: string;
  /** The service's name and labels when the task was made (swarmkit's Task.ServiceAnnotations): task label
   * filters match these. Absent on tasks stored before it was recorded. Never in the task's JSON, as in Docker's. */
  ServiceAnnotations?: { Name: string; Labels: Record<string, string> };
  Status: TaskStatus;
  DesiredState: TaskState;
  /** Ours: restarts that led to this task in its slot (MaxAttempts counts them). */
  restarts: number;
  /** Ours: a restarted task waits for its restart delay, then its desired state becomes running. */
  startAt?: string;
  /** Ours: when the rolling updater first saw this task of an update running (Delay and Monitor count from it). */
  runningAt?: string;
  /** Docker's JobIteration: the service's JobStatus.JobIteration when this job task was made (job modes only). */
  JobIteration?: { Index: number };
  /** Ours: a revoked secret/config was removed from this task in place; it is still replaced by the update. */
  outdated?: boolean;
}

export type NodeRole = 'worker' | 'manager';
export type Availability = 'active' | 'pause' | 'drain';
export type NodeState = 'unknown' | 'down' | 'ready' | 'disconnected';

/** Docker's NodeSpec.Membership: a pending node (joined under manual approval) gets no task and no secret. */
export type Membership = 'pending' | 'accepted';

export interface NodeRecord {
  /** Set by managers only. Labels here are what `node.labels.KEY` constraints read (trusted). Membership absent:
   * accepted (rows written before join approval existed). */
  Spec: { Name?: string; Labels: Record<string, string>; Role: NodeRole; Membership?: Membership; Availability: Availability } & Record<string, unknown>;
  /** What the node said about itself when it joined (hostname, `agent run --label`): untrusted, as Docker's
   * Description is. Engine.Labels are what `engine.labels.KEY` constraints read. Engine absent: a row from before
   * this split (migrateNodeRows moves its labels here). */
  Description: { Hostname: string; Platform: { Architecture: string; OS: string }; Engine?: { Labels: Record<string, string> } };
  Status: { State: NodeState; Message?: string; Addr: string };
  /** Ours: serials of the certificates issued to this node; all are revoked when it is removed. */
  certSerials: string[];
  /** Docker's Description.TLSInfo as the node last reported it (manager/pki/node-certs.ts); absent: not yet. */
  TLSInfo?: NodeTlsInfo;
}

/** Docker's TLSInfo: the root a node trusts and the issuer (subject, public key; base64 DER) of its certificate. */
export interface NodeTlsInfo {
  TrustRoot: string;
  CertIssuerSubject: string;
  CertIssuerPublicKey: string;
}

/** A node joined under manual approval is a member only once a manager accepted it (absent: accepted). */
export function isAccepted(n: NodeRecord): boolean {
  return (n.Spec.Membership ?? 'accepted') === 'accepted';
}
