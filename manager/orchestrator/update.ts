// The rolling updater (swarmkit's manager/orchestrator/update/updater.go) as a pure decision: from one service, its
// tasks, its UpdateStatus and the time, which old tasks stop, which new ones start, and the status to store. No
// timers and no memory between runs: the progress of an update is read back from the tasks themselves (which spec
// they carry, when they were made, when the updater first saw them running), so a manager restart resumes it.
//
// Rules (docs/updates.md):
// - a slot is dirty while a live task in it carries an older spec (or was trimmed of a revoked secret/config);
// - at most Parallelism slots are in flight (0: all): a slot is in flight from its start until its new task has run
//   for Delay; stop-first makes the new task held (desired `ready`) until the old one stopped; start-first starts
//   the new one first and stops the old one once the new one runs;
// - a task made by this update that ends on its own (complete, failed, rejected) within Monitor of running is a
//   failure; failures / slots > MaxFailureRatio triggers FailureAction (pause, rollback; continue ignores);
// - done when no slot is dirty or in flight and the last new task ran for Monitor: `completed` (or
//   `rollback_completed`), Docker's texts.
import { formatRfc3339Nano, parseRfc3339Nano } from '../../shared/time.js';
import { isFinished, stateRank, type TaskRecord, type UpdateState, type UpdateStatus } from './types.js';

/** The service label that chooses how a change of secret/config references reaches running tasks. */
export const SECRET_UPDATE_LABEL = 'com.runsecrets.secret-update';

export type SecretUpdateMode = { kind: 'replace' } | { kind: 'live' } | { kind: 'signal'; signal: string };

const SIGNALS = new Set([
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGTERM', 'SIGWINCH', 'SIGCONT', 'SIGALRM', 'SIGIO', 'SIGPWR',
]);

/** The label's mode, or an error text for a value that names none (checked at the API). Absent: `replace`. */
export function parseSecretUpdateMode(labels: Record<string, unknown> | undefined): SecretUpdateMode | string {
  const v = labels?.[SECRET_UPDATE_LABEL];
  if (v === undefined || v === 'replace') return { kind: 'replace' };
  if (v === 'live') return { kind: 'live' };
  if (typeof v === 'string' && v.startsWith('signal:')) {
    const name = v.slice('signal:'.length).toUpperCase();
    const sig = name.startsWith('SIG') ? name : `SIG${name}`;
    if (SIGNALS.has(sig)) return { kind: 'signal', signal: sig };
  }
  return `invalid label ${SECRET_UPDATE_LABEL}=${String(v)}: want replace, live or signal:SIGNAME (one of ${[...SIGNALS].join(', ')})`;
}

export function secretUpdateMode(labels: Record<string, unknown> | undefined): SecretUpdateMode {
  const m = parseSecretUpdateMode(labels);
  return typeof m === 'string' ? { kind: 'replace' } : m;
}

export interface UpdatePolicy {
  parallelism: number;
  delayNs: bigint;
  failureAction: 'pause' | 'continue' | 'rollback';
  monitorNs: bigint;
  maxFailureRatio: number;
  order: 'stop-first' | 'start-first';
}

/** swarmkit's defaults (api/defaults/service.go), the same for UpdateConfig and RollbackConfig. */
export const DEFAULT_MONITOR_NS = 5_000_000_000n;

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
const nsOf = (v: unknown, dflt: bigint): bigint => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? BigInt(Math.trunc(v)) : dflt);

/** An UpdateConfig or RollbackConfig as stored (absent: the defaults). */
export function updatePolicy(raw: unknown): UpdatePolicy {
  const c = obj(raw);
  const fa = c.FailureAction;
  return {
    parallelism: typeof c.Parallelism === 'number' && c.Parallelism >= 0 ? Math.trunc(c.Parallelism) : 1,
    delayNs: nsOf(c.Delay, 0n),
    failureAction: fa === 'continue' || fa === 'rollback' ? fa : 'pause',
    monitorNs: nsOf(c.Monitor, 0n) > 0n ? nsOf(c.Monitor, 0n) : DEFAULT_MONITOR_NS,
    maxFailureRatio: typeof c.MaxFailureRatio === 'number' ? c.MaxFailureRatio : 0,
    order: c.Order === 'start-first' ? 'start-first' : 'stop-first',
  };
}

export interface UpdaterTask {
  id: string;
  /** RFC 3339 creation time (the store's). */
  createdAt: string;
  task: TaskRecord;
}

export interface UpdaterInput {
  status: UpdateStatus | undefined;
  /** UpdateConfig, or RollbackConfig while a rollback runs (the caller picks by status). */
  policy: UpdatePolicy;
  /** Every task of the service (live and old). */
  tasks: UpdaterTask[];
  /** Does this task carry an older spec than the service's (or was it trimmed in place)? */
  isDirty(t: TaskRecord): boolean;
  /** The slot a task fills ("s:3", or "n:NODE" for a global service). */
  slotKey(t: TaskRecord): string;
  /** Does the service have a previous spec to roll back to? */
  canRollBack: boolean;
  now: bigint;
}

export interface UpdaterDecision {
  /** Old tasks to stop. */
  shutdown: string[];
  /** New tasks to make (the service's current spec), one per slot; held: desired `ready` until released. */
  create: { slot: number; nodeId: string; held: boolean }[];
  /** Held new tasks whose slot's old task stopped: desired `running` now. */
  release: string[];
  /** New tasks first seen running now (their runningAt is set to now). */
  sawRunning: string[];
  /** The UpdateStatus to store; undefined: unchanged. */
  status?: UpdateStatus;
  /** Roll the service back to its previous spec (FailureAction rollback). */
  rollback: boolean;
  wakeAt: bigint | null;
}

const ns = (s: string | undefined): bigint => (s ? (parseRfc3339Nano(s) ?? 0n) : 0n);
const isLive = (t: TaskRecord): boolean => stateRank(t.DesiredState) <= stateRank('running');
/** Held by stop-first: desired `ready` with no restart delay (a restart-delayed task has startAt). */
export const isHeld = (t: TaskRecord): boolean => t.DesiredState === 'ready' && !t.startAt;
/** Started on its node and not yet reported finished. A task still `assigned` was never started by its agent (which
 * reports `preparing` first), and an agent drops a task it never started without a report: nothing to wait for. */
const stillRuns = (t: TaskRecord): boolean => !isFinished(t.Status.State) && stateRank(t.Status.State) >= stateRank('preparing');
/** Ended on its own: what Monitor counts as a failure (a shutdown asked by the manager is not one). */
const endedOnItsOwn = (t: TaskRecord): boolean => t.Status.State === 'complete' || t.Status.State === 'failed' || t.Status.State === 'rejected';

const ACTIVE: ReadonlySet<UpdateState> = new Set(['updating', 'rollback_started']);

export function planUpdate(inp: UpdaterInput): UpdaterDecision {
  const d: UpdaterDecision = { shutdown: [], create: [], release: [], sawRunning: [], rollback: false, wakeAt: null };
  const { now, policy } = inp;
  const wake = (at: bigint): void => {
    if (d.wakeAt === null || at < d.wakeAt) d.wakeAt = at;
  };
  const slots = new Map<string, UpdaterTask[]>();
  for (const t of inp.tasks) {
    const k = inp.slotKey(t.task);
    if (!slots.has(k)) slots.set(k, []);
    slots.get(k)!.push(t);
  }
  const dirtySlots = [...slots.entries()].filter(([, list]) => list.some((t) => isLive(t.task) && inp.isDirty(t.task)));

  let status = inp.status;
  if (status && (status.State === 'paused' || status.State === 'rollback_paused')) return d; // until a new spec
  if (!status || !ACTIVE.has(status.State)) {
    if (dirtySlots.length === 0) return d;
    status = { State: 'updating', StartedAt: formatRfc3339Nano(now), Message: 'update in progress' };
    d.status = status;
  }
  const rollingBack = status.State === 'rollback_started';
  const startedAt = ns(status.StartedAt);
  const ofThisUpdate = (t: UpdaterTask): boolean => !inp.isDirty(t.task) && ns(t.createdAt) >= startedAt;

  for (const t of inp.tasks) {
    if (ofThisUpdate(t) && t.task.Status.State === 'running' && !t.task.runningAt) d.sawRunning.push(t.id);
  }
  const ranSince = (t: UpdaterTask): bigint => (t.task.runningAt ? ns(t.task.runningAt) : d.sawRunning.includes(t.id) ? now : 0n);

  // Monitor: tasks of this update that ended on their own within Monitor of running (or before ever running).
  if (policy.failureAction !== 'continue') {
    const failed = inp.tasks
      .filter((t) => ofThisUpdate(t) && endedOnItsOwn(t.task))
      .filter((t) => !t.task.runningAt || ns(t.task.Status.Timestamp) - ns(t.task.runningAt) <= policy.monitorNs)
      .sort((a, b) => (ns(a.task.Status.Timestamp) < ns(b.task.Status.Timestamp) ? -1 : 1));
    const total = Math.max(1, slots.size);
    if (failed.length > 0 && failed.length / total > policy.maxFailureRatio) {
      const id = failed[failed.length - 1]!.id;
      const why = `due to failure or early termination of task ${id}`;
      if (!rollingBack && policy.failureAction === 'rollback' && inp.canRollBack) {
        d.status = { State: 'rollback_started', StartedAt: formatRfc3339Nano(now), Message: `update rolled back ${why}` };
        d.rollback = true;
      } else if (rollingBack) {
        // A rollback is never rolled back; swarmkit keeps the generic "update paused" text for action pause.
        d.status = { ...status, State: 'rollback_paused', Message: policy.failureAction === 'rollback' ? `rollback paused ${why}` : `update paused ${why}` };
      } else {
        d.status = { ...status, State: 'paused', Message: `update paused ${why}` };
      }
      return d;
    }
  }

  const limit = policy.parallelism === 0 ? Infinity : policy.parallelism;
  let inFlight = 0;
  const waiting: [string, UpdaterTask[]][] = [];
  let lastRun = 0n; // when the newest task of this update was first seen running (for the closing Monitor)
  for (const [key, list] of slots) {
    const live = list.filter((t) => isLive(t.task));
    const old = live.filter((t) => inp.isDirty(t.task));
    const fresh = live.filter((t) => !inp.isDirty(t.task));
    const stopping = list.filter((t) => !isLive(t.task) && stillRuns(t.task));
    for (const f of fresh) if (ofThisUpdate(f) && ranSince(f) > lastRun) lastRun = ranSince(f);
    if (old.length === 0) {
      let busy = false;
      for (const f of fresh) {
        if (isHeld(f.task)) {
          if (stopping.length === 0) d.release.push(f.id);
          busy = true;
        } else if (ofThisUpdate(f)) {
          const since = ranSince(f);
          if (since === 0n) busy = true;
          else if (since + policy.delayNs > now) {
            busy = true;
            wake(since + policy.delayNs);
          }
        }
      }
      if (busy) inFlight++;
      continue;
    }
    if (fresh.length === 0) {
      waiting.push([key, old]);
      continue;
    }
    // start-first: the new task is there; the old one stops once the new one runs.
    inFlight++;
    if (fresh.some((f) => f.task.Status.State === 'running')) d.shutdown.push(...old.map((t) => t.id));
  }

  waiting.sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  for (const [, old] of waiting) {
    if (inFlight >= limit) break;
    inFlight++;
    const t = old[0]!.task;
    const nodeId = t.Slot === 0 ? t.NodeID : '';
    if (policy.order === 'stop-first') {
      d.shutdown.push(...old.map((o) => o.id));
      d.create.push({ slot: t.Slot, nodeId, held: true });
    } else d.create.push({ slot: t.Slot, nodeId, held: false });
  }

  if (dirtySlots.length === 0 && inFlight === 0) {
    const until = lastRun + policy.monitorNs;
    if (policy.failureAction !== 'continue' && lastRun > 0n && until > now) wake(until);
    else {
      d.status = {
        State: rollingBack ? 'rollback_completed' : 'completed',
        ...(status.StartedAt ? { StartedAt: status.StartedAt } : {}),
        CompletedAt: formatRfc3339Nano(now),
        Message: rollingBack ? 'rollback completed' : 'update completed',
      };
    }
  }
  return d;
}

/** The task's spec without the secret/config references the service's template no longer has (by object ID), or
 * null when it has none of those: a revoked secret leaves running tasks at once, whatever the update mode. */
export function withoutRevokedRefs(taskSpec: Record<string, unknown>, template: Record<string, unknown>): Record<string, unknown> | null {
  const cs = obj(taskSpec.ContainerSpec);
  const want = obj(template.ContainerSpec);
  let changed = false;
  const next: Record<string, unknown> = { ...cs };
  for (const [list, idKey] of [['Secrets', 'SecretID'], ['Configs', 'ConfigID']] as const) {
    if (!Array.isArray(cs[list])) continue;
    const kept = new Set((Array.isArray(want[list]) ? (want[list] as unknown[]) : []).map((r) => obj(r)[idKey]));
    const refs = (cs[list] as unknown[]).filter((r) => kept.has(obj(r)[idKey]));
    if (refs.length !== (cs[list] as unknown[]).length) {
      changed = true;
      next[list] = refs;
    }
  }
  return changed ? { ...taskSpec, ContainerSpec: next } : null;
}
