// The orchestrator and scheduler as one pure function: from the stored services, tasks and nodes (and the time),
// the writes that bring the tasks in line with the services. No I/O, so every rule is unit-testable; the loop in
// ./loop.ts applies the result through the store (with version checks) and runs this again on every change.
//
// Rules (swarmkit's replicated and global orchestrators, restart supervisor, task reaper and scheduler):
// - replicated: one live task per slot 1..Replicas; global: one per eligible node (slot 0, NodeID preset);
// - a live task is one whose DesiredState is at most running; a finished live task is replaced per the restart
//   policy (Condition, Delay, MaxAttempts); a slot whose policy declines keeps its last task and gets no new one;
// - a task on a node that is gone, down, drained or no longer meets the constraints is shut down and replaced;
// - a spec change (or ForceUpdate) replaces tasks by the rolling updater (./update.ts, UpdateConfig); a change of
//   Secrets/Configs only is one too, unless the service's secret-update label says `live` or `signal:…` (the live
//   tasks' spec is then updated in place and the agent swaps the files); a revoked reference leaves at once;
// - the newest taskHistory (the swarm's limit, default TASK_HISTORY) old tasks per slot are kept; older finished
//   ones are deleted;
// - the scheduler assigns pending tasks to ready, active nodes meeting the constraints, fewest tasks of the same
//   service first, then fewest tasks overall; with none, the task stays pending with Docker's `no suitable node`.
import type { StoredObject } from '../store/types.js';
import { formatRfc3339Nano, parseRfc3339Nano } from '../../shared/time.js';
import { nodeMatches, parseConstraints, type Constraint, type NodeFacts } from './constraints.js';
import { isAccepted, isFinished, stateRank, type NodeRecord, type ServiceRecord, type TaskRecord, type TaskState } from './types.js';
import { planUpdate, secretUpdateMode, updatePolicy, withoutRevokedRefs } from './update.js';
import { decideJob, type JobMode, type JobTask } from './jobs.js';

/** Old tasks kept per slot (Docker's TaskHistoryRetentionLimit default), beside the slot's live task. */
export const TASK_HISTORY = 5;
/** swarmkit's default restart delay when the policy sets none. */
export const DEFAULT_RESTART_DELAY_NS = 5_000_000_000n;

export interface ClusterView {
  services: StoredObject<ServiceRecord>[];
  tasks: StoredObject<TaskRecord>[];
  nodes: StoredObject<NodeRecord>[];
  /** Old tasks kept per slot (the swarm's TaskHistoryRetentionLimit); default TASK_HISTORY; negative: all kept. */
  taskHistory?: number;
}

export interface Plan {
  create: { id: string; task: TaskRecord }[];
  update: { id: string; version: number; task: TaskRecord }[];
  delete: { id: string; version: number }[];
  /** Services whose UpdateStatus (or, on a rollback, Spec) the rolling updater changed. */
  services: { id: string; version: number; service: ServiceRecord }[];
  /** When the plan should be computed again (a restart delay ends), in ns since the epoch; null: not needed. */
  wakeAt: bigint | null;
}

type RestartCondition = 'none' | 'on-failure' | 'any';
interface Policy {
  condition: RestartCondition;
  delayNs: bigint;
  maxAttempts: number;
}
interface ServiceView {
  id: string;
  name: string;
  labels: Record<string, string>;
  template: Record<string, unknown>;
  global: boolean;
  replicas: number;
  policy: Policy;
  constraints: Constraint[];
  /** Job modes (ReplicatedJob, GlobalJob): run by ./jobs.ts, never by the replica rules or the rolling updater. */
  job?: JobMode;
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function serviceView(s: StoredObject<ServiceRecord>): ServiceView {
  const spec = s.spec.Spec;
  const template = obj(spec.TaskTemplate);
  const mode = obj(spec.Mode);
  const rp = obj(template.RestartPolicy);
  const placement = obj(template.Placement);
  let constraints: Constraint[] = [];
  try {
    constraints = parseConstraints(Array.isArray(placement.Constraints) ? (placement.Constraints as string[]) : []);
  } catch {
    constraints = [{ key: 'invalid', op: '==', value: 'invalid' }]; // validated at the API; never place on a bad one
  }
  const cond = rp.Condition;
  return {
    id: s.id,
    name: spec.Name,
    labels: { ...(obj(spec.Labels) as Record<string, string>) },
    template,
    global: mode.Global !== undefined && mode.Global !== null,
    replicas: typeof obj(mode.Replicated).Replicas === 'number' ? (obj(mode.Replicated).Replicas as number) : 1,
    policy: {
      condition: cond === 'none' || cond === 'on-failure' ? cond : 'any',
      delayNs: typeof rp.Delay === 'number' ? BigInt(Math.trunc(rp.Delay)) : DEFAULT_RESTART_DELAY_NS,
      maxAttempts: typeof rp.MaxAttempts === 'number' ? rp.MaxAttempts : 0,
    },
    constraints,
    ...jobModeOf(mode),
  };
}

function jobModeOf(mode: Record<string, unknown>): { job?: JobMode } {
  if (mode.GlobalJob !== undefined && mode.GlobalJob !== null) return { job: { kind: 'global-job' } };
  if (mode.ReplicatedJob === undefined || mode.ReplicatedJob === null) return {};
  const rj = obj(mode.ReplicatedJob);
  // The API stores both (moby's defaults); these are for rows written otherwise.
  const maxConcurrent = typeof rj.MaxConcurrent === 'number' ? rj.MaxConcurrent : 1;
  const totalCompletions = typeof rj.TotalCompletions === 'number' ? rj.TotalCompletions : maxConcurrent;
  return { job: { kind: 'replicated-job', maxConcurrent, totalCompletions } };
}

/** JSON with sorted keys, so that equal specs compare equal whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/**
 * canonical() of a stored spec, computed once per object: stored objects are never changed in place (a write
 * stores a new one), and every run compared every task's spec again (10,000 tasks: most of a run's time).
 */
const canonicalCache = new WeakMap<object, string>();
function canonicalOf(v: Record<string, unknown>): string {
  let c = canonicalCache.get(v);
  if (c === undefined) canonicalCache.set(v, (c = canonical(v)));
  return c;
}

function withoutRefs(template: Record<string, unknown>): Record<string, unknown> {
  const cs = { ...obj(template.ContainerSpec) };
  delete cs.Secrets;
  delete cs.Configs;
  return { ...template, ContainerSpec: cs };
}

/** 'same': nothing changed; 'refs': only Secrets/Configs changed (update in place); 'dirty': replace the task. */
export function compareTemplates(taskSpec: Record<string, unknown>, template: Record<string, unknown>): 'same' | 'refs' | 'dirty' {
  if (canonicalOf(taskSpec) === canonicalOf(template)) return 'same';
  return canonical(withoutRefs(taskSpec)) === canonical(withoutRefs(template)) ? 'refs' : 'dirty';
}

export function nodeFacts(n: StoredObject<NodeRecord>): NodeFacts {
  const r = n.spec;
  return {
    id: n.id,
    hostname: r.Description.Hostname,
    role: r.Spec.Role,
    os: r.Description.Platform.OS,
    arch: r.Description.Platform.Architecture,
    labels: r.Spec.Labels ?? {},
    engineLabels: r.Description.Engine?.Labels ?? {},
  };
}

/** May this node keep a task of this service? (paused nodes keep theirs) */
function canKeep(n: StoredObject<NodeRecord> | undefined, sv: ServiceView): boolean {
  return !!n && isAccepted(n.spec) && n.spec.Status.State !== 'down' && n.spec.Spec.Availability !== 'drain' && nodeMatches(sv.constraints, nodeFacts(n));
}
function isReady(n: StoredObject<NodeRecord>): boolean {
  return isAccepted(n.spec) && n.spec.Status.State === 'ready' && n.spec.Spec.Availability === 'active';
}

function shouldRestart(t: TaskRecord, p: Policy): boolean {
  if (p.condition === 'none') return false;
  if (p.condition === 'on-failure' && t.Status.State === 'complete') return false;
  return p.maxAttempts === 0 || t.restarts < p.maxAttempts;
}

const ns = (s: string): bigint => parseRfc3339Nano(s) ?? 0n;
function newestFirst<T extends { createdAt: string; id: string }>(a: T, b: T): number {
  const d = ns(b.createdAt) - ns(a.createdAt);
  return d > 0n ? 1 : d < 0n ? -1 : a.id < b.id ? 1 : -1;
}

/** Live: meant to run. A job task (DesiredState `complete`) is live until it has finished. */
const isLive = (t: TaskRecord): boolean => stateRank(t.DesiredState) <= stateRank('running') || (t.DesiredState === 'complete' && !isFinished(t.Status.State));
const iterationOf = (t: TaskRecord): number => t.JobIteration?.Index ?? 0;
const jobIteration = (s: ServiceRecord): number => s.JobStatus?.JobIteration.Index ?? 0;
/** Can an old task go? Only once it is finished or was never given to a node (nothing runs it). */
const deletable = (t: TaskRecord): boolean => isFinished(t.Status.State) || stateRank(t.Status.State) < stateRank('assigned');

export function reconcile(view: ClusterView, now: bigint, newId: () => string): Plan {
  const ts = formatRfc3339Nano(now);
  const plan: Plan = { create: [], update: [], delete: [], services: [], wakeAt: null };
  const nodes = new Map(view.nodes.map((n) => [n.id, n]));
  // The working copy: every task as it will be after this plan (updates applied, creations added).
  const work = new Map<string, { version: number; createdAt: string; task: TaskRecord; changed: boolean; created: boolean }>();
  for (const t of view.tasks) work.set(t.id, { version: t.version, createdAt: t.createdAt, task: t.spec, changed: false, created: false });
  const edit = (id: string, f: (t: TaskRecord) => TaskRecord): void => {
    const w = work.get(id)!;
    w.task = f(w.task);
    w.changed = true;
  };
  const wake = (at: bigint): void => {
    if (plan.wakeAt === null || at < plan.wakeAt) plan.wakeAt = at;
  };
  const shutdown = (id: string, desired: TaskState = 'shutdown'): void =>
    edit(id, (t) => {
      const nt: TaskRecord = { ...t, DesiredState: desired };
      // Never given to a node: no agent will ever stop it, so it stops here.
      if (stateRank(t.Status.State) < stateRank('assigned')) nt.Status = { Timestamp: ts, State: 'shutdown', Message: 'shutdown before assignment' };
      // Held (stop-first, restart delay) and never started: its agent drops it without a report; it stops here too.
      else if (t.DesiredState === 'ready' && stateRank(t.Status.State) < stateRank('preparing')) nt.Status = { Timestamp: ts, State: 'shutdown', Message: 'shutdown before start' };
      return nt;
    });
  const add = (sv: ServiceView, slot: number, nodeId: string, restarts: number, delayNs: bigint): string => {
    const id = newId();
    const task: TaskRecord = {
      ServiceID: sv.id,
      Slot: slot,
      NodeID: nodeId,
      Labels: {},
      Spec: sv.template,
      ServiceName: sv.name,
      ServiceAnnotations: { Name: sv.name, Labels: sv.labels },
      Status: { Timestamp: ts, State: 'new', Message: 'created' },
      DesiredState: delayNs > 0n ? 'ready' : 'running',
      restarts,
    };
    if (delayNs > 0n) {
      task.startAt = formatRfc3339Nano(now + delayNs);
      wake(now + delayNs);
    }
    work.set(id, { version: 0, createdAt: ts, task, changed: true, created: true });
    return id;
  };

  const services = new Map(view.services.map((s) => [s.id, serviceView(s)]));
  const stored = new Map(view.services.map((s) => [s.id, s]));

  // The rolling updater's decisions for one service, applied to the working copy (and the service's status).
  const rollingUpdate = (sv: ServiceView, stored: StoredObject<ServiceRecord>): void => {
    const rec = stored.spec;
    const rollingBack = rec.UpdateStatus?.State === 'rollback_started';
    const dirty = new Map<TaskRecord, boolean>(); // the comparison is JSON work: once per task and run
    const d = planUpdate({
      status: rec.UpdateStatus,
      policy: updatePolicy(rollingBack ? rec.Spec.RollbackConfig : rec.Spec.UpdateConfig),
      tasks: [...work.entries()].filter(([, w]) => w.task.ServiceID === sv.id).map(([id, w]) => ({ id, createdAt: w.createdAt, task: w.task })),
      isDirty: (t) => {
        let v = dirty.get(t);
        if (v === undefined) dirty.set(t, (v = t.outdated === true || compareTemplates(t.Spec, sv.template) !== 'same'));
        return v;
      },
      slotKey: (t) => (sv.global ? `n:${t.NodeID}` : `s:${t.Slot}`),
      canRollBack: rec.PreviousSpec !== undefined,
      now,
    });
    for (const id of d.shutdown) shutdown(id);
    for (const c of d.create) {
      const id = add(sv, c.slot, c.nodeId, 0, 0n);
      if (c.held) edit(id, (x) => ({ ...x, DesiredState: 'ready' }));
    }
    for (const id of d.release) edit(id, (x) => ({ ...x, DesiredState: 'running' }));
    for (const id of d.sawRunning) edit(id, (x) => ({ ...x, runningAt: ts }));
    if (d.wakeAt !== null) wake(d.wakeAt);
    if (d.status || d.rollback) {
      const next: ServiceRecord = { ...rec, ...(d.status ? { UpdateStatus: d.status } : {}) };
      if (d.rollback && rec.PreviousSpec) {
        // swarmkit's rollbackUpdate: the previous spec (and its pull credentials) back, no previous spec after it.
        next.Spec = rec.PreviousSpec;
        delete next.PreviousSpec;
        if (rec.previousPullAuth !== undefined) next.pullAuth = rec.previousPullAuth;
        else delete next.pullAuth;
        delete next.previousPullAuth;
      }
      plan.services.push({ id: stored.id, version: stored.version, service: next });
    }
  };

  // Tasks of removed services: deleted once nothing runs them; until then their desired state is remove.
  for (const [id, w] of work) {
    if (services.has(w.task.ServiceID)) continue;
    if (deletable(w.task)) plan.delete.push({ id, version: w.version });
    else if (w.task.DesiredState !== 'remove') shutdown(id, 'remove');
  }
  for (const d of plan.delete) work.delete(d.id);

  // A job's tasks (./jobs.ts decides): DesiredState `complete`, the service's iteration; no rolling updater (Docker:
  // "Jobs may not have an update config"; an update starts a new iteration instead).
  const runJob = (sv: ServiceView, job: JobMode, rec: ServiceRecord): void => {
    const iteration = jobIteration(rec);
    const jobTasks: JobTask[] = [];
    for (const [id, w] of work) {
      const t = w.task;
      if (t.ServiceID !== sv.id) continue;
      if (isLive(t)) {
        // Its node is gone, down, drained or no longer fits: stopped; the job's rules decide about its slot.
        if (t.NodeID !== '' && !canKeep(nodes.get(t.NodeID), sv)) shutdown(id);
        else if (t.DesiredState === 'ready' && t.startAt) {
          // A retry waiting for its restart delay.
          if (ns(t.startAt) <= now) {
            edit(id, (x) => {
              const nt: TaskRecord = { ...x, DesiredState: 'complete' };
              delete nt.startAt;
              return nt;
            });
          } else wake(ns(t.startAt));
        }
      }
      const cur = work.get(id)!.task;
      // A held retry is the job's pending task: active, as one desired `complete`.
      const desired = cur.DesiredState === 'ready' && cur.startAt ? 'complete' : cur.DesiredState;
      jobTasks.push({ id, slot: cur.Slot, nodeId: cur.NodeID, iteration: iterationOf(cur), state: cur.Status.State, desired, restarts: cur.restarts });
    }
    const eligible = job.kind === 'global-job' ? view.nodes.filter((n) => isReady(n) && nodeMatches(sv.constraints, nodeFacts(n))).map((n) => n.id) : [];
    const d = decideJob(job, iteration, jobTasks, eligible, { condition: sv.policy.condition, maxAttempts: sv.policy.maxAttempts });
    for (const id of d.stop) shutdown(id);
    for (const st of d.start) {
      const delayNs = st.restarts > 0 ? sv.policy.delayNs : 0n;
      const id = add(sv, st.slot, st.nodeId, st.restarts, delayNs);
      edit(id, (x) => ({ ...x, DesiredState: delayNs > 0n ? 'ready' : 'complete', JobIteration: { Index: iteration } }));
    }
  };

  for (const sv of services.values()) {
    if (sv.job) {
      runJob(sv, sv.job, stored.get(sv.id)!.spec);
      continue;
    }
    const mine = [...work.entries()].filter(([, w]) => w.task.ServiceID === sv.id);
    const slotKey = (t: TaskRecord): string => (sv.global ? `n:${t.NodeID}` : `s:${t.Slot}`);
    const replaceIn = new Map<string, { slot: number; nodeId: string; restarts: number; delayNs: bigint }>();

    for (const [id, w] of mine) {
      const t = w.task;
      if (!isLive(t)) continue;
      const node = t.NodeID ? nodes.get(t.NodeID) : undefined;
      const cmp = compareTemplates(t.Spec, sv.template);
      if (cmp === 'refs' && secretUpdateMode(sv.labels).kind !== 'replace') {
        edit(id, (x) => ({ ...x, Spec: sv.template, ServiceAnnotations: { Name: sv.name, Labels: sv.labels } }));
      } else if (cmp !== 'same') {
        // Replaced by the rolling updater below; what it may no longer read goes now.
        const trimmed = withoutRevokedRefs(t.Spec, sv.template);
        if (trimmed) edit(id, (x) => ({ ...x, Spec: trimmed, outdated: true }));
      }
      const lost = t.NodeID !== '' && !canKeep(node, sv);
      if (isFinished(t.Status.State)) {
        shutdown(id);
        if (shouldRestart(t, sv.policy)) {
          replaceIn.set(slotKey(t), { slot: t.Slot, nodeId: sv.global ? t.NodeID : '', restarts: t.restarts + 1, delayNs: sv.policy.delayNs });
        }
        continue;
      }
      if (lost) {
        // Its node is gone, down, drained or no longer fits: not the task's failure, so it moves whatever the
        // restart policy says, keeping its restart count. A global task belongs to its node: no replacement.
        shutdown(id);
        if (sv.global) continue;
        // A drained node's tasks move at once (swarmkit skips the restart delay for drain).
        const delayNs = node && node.spec.Spec.Availability === 'drain' ? 0n : sv.policy.delayNs;
        replaceIn.set(slotKey(t), { slot: t.Slot, nodeId: '', restarts: t.restarts, delayNs });
        continue;
      }
      if (t.DesiredState === 'ready' && t.startAt) {
        if (ns(t.startAt) <= now) {
          edit(id, (x) => {
            const nt = { ...x, DesiredState: 'running' as TaskState };
            delete nt.startAt;
            return nt;
          });
        } else wake(ns(t.startAt));
      }
    }
    for (const r of replaceIn.values()) add(sv, r.slot, r.nodeId, r.restarts, r.delayNs);
    rollingUpdate(sv, stored.get(sv.id)!);

    // Occupied slots: a live task, or a last task whose restart policy declined (it keeps its slot).
    const bySlot = new Map<string, { id: string; createdAt: string; task: TaskRecord }[]>();
    for (const [id, w] of work) {
      if (w.task.ServiceID !== sv.id) continue;
      const k = slotKey(w.task);
      if (!bySlot.has(k)) bySlot.set(k, []);
      bySlot.get(k)!.push({ id, createdAt: w.createdAt, task: w.task });
    }
    const occupied = new Map<string, string[]>(); // slot key -> live task ids
    for (const [k, list] of bySlot) {
      const live = list.filter((x) => isLive(x.task)).map((x) => x.id);
      if (live.length > 0) {
        occupied.set(k, live);
        continue;
      }
      const last = [...list].sort(newestFirst)[0]!.task;
      if (isFinished(last.Status.State) && !shouldRestart(last, sv.policy) && compareTemplates(last.Spec, sv.template) !== 'dirty') {
        if (!sv.global || canKeep(nodes.get(last.NodeID), sv)) occupied.set(k, []);
      }
    }

    if (!sv.global) {
      const used = new Set([...occupied.keys()].map((k) => Number(k.slice(2))));
      // Scale down: the highest slots go (Docker sets their desired state to remove).
      for (const slot of [...used].sort((a, b) => b - a)) {
        if (used.size <= sv.replicas) break;
        for (const id of occupied.get(`s:${slot}`) ?? []) shutdown(id, 'remove');
        used.delete(slot);
      }
      for (let slot = 1; used.size < sv.replicas; slot++) {
        if (used.has(slot)) continue;
        used.add(slot);
        add(sv, slot, '', 0, 0n);
      }
    } else {
      for (const n of view.nodes) {
        if (!isReady(n) || !nodeMatches(sv.constraints, nodeFacts(n))) continue;
        if (!occupied.has(`n:${n.id}`)) add(sv, 0, n.id, 0, 0n);
      }
    }
  }

  schedule(view, services, work, ts);

  // History: per slot, the newest taskHistory old tasks stay; older ones go once nothing runs them.
  const keep = view.taskHistory ?? TASK_HISTORY;
  const history = new Map<string, { id: string; createdAt: string; task: TaskRecord }[]>();
  for (const [id, w] of work) {
    if (isLive(w.task) || w.created) continue;
    const sv = services.get(w.task.ServiceID);
    if (!sv) continue;
    // A job's tasks of its current run are its record of what is done: never pruned.
    if (sv.job && w.task.DesiredState === 'complete' && iterationOf(w.task) === jobIteration(stored.get(sv.id)!.spec)) continue;
    const k = `${w.task.ServiceID}/${sv.global || sv.job?.kind === 'global-job' ? w.task.NodeID : w.task.Slot}`;
    if (!history.has(k)) history.set(k, []);
    history.get(k)!.push({ id, createdAt: w.createdAt, task: w.task });
  }
  for (const list of history.values()) {
    // Removed by a scale-down: gone as soon as nothing runs them, as in Docker.
    for (const old of list.filter((x) => x.task.DesiredState === 'remove' && deletable(x.task))) {
      plan.delete.push({ id: old.id, version: work.get(old.id)!.version });
      work.delete(old.id);
    }
    if (keep < 0) continue;
    for (const old of list.filter((x) => work.has(x.id)).sort(newestFirst).slice(keep)) {
      if (!deletable(old.task)) continue;
      plan.delete.push({ id: old.id, version: work.get(old.id)!.version });
      work.delete(old.id);
    }
  }

  for (const [id, w] of work) {
    if (w.created) plan.create.push({ id, task: w.task });
    else if (w.changed) plan.update.push({ id, version: w.version, task: w.task });
  }
  return plan;
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

/** Assigns new and pending tasks to nodes, or leaves them pending with Docker's explanation. */
function schedule(
  view: ClusterView,
  services: Map<string, ServiceView>,
  work: Map<string, { task: TaskRecord; changed: boolean }>,
  ts: string,
): void {
  // Load per node: live tasks in total and per service.
  const total = new Map<string, number>();
  const perService = new Map<string, number>();
  for (const w of work.values()) {
    if (!w.task.NodeID || !isLive(w.task) || stateRank(w.task.Status.State) < stateRank('assigned')) continue;
    total.set(w.task.NodeID, (total.get(w.task.NodeID) ?? 0) + 1);
    const k = `${w.task.NodeID}/${w.task.ServiceID}`;
    perService.set(k, (perService.get(k) ?? 0) + 1);
  }
  const pending = [...work.entries()]
    .filter(([, w]) => isLive(w.task) && stateRank(w.task.Status.State) < stateRank('assigned'))
    .sort(([a, x], [b, y]) => x.task.ServiceID.localeCompare(y.task.ServiceID) || x.task.Slot - y.task.Slot || (a < b ? -1 : 1));
  // The nodes that may take a service's tasks, found once per run (10,000 pending tasks x 1,000 nodes took minutes).
  const fitOf = new Map<string, { candidates: number; ready: number; fit: StoredObject<NodeRecord>[] }>();
  const eligible = (sv: ServiceView, nodeId: string): { candidates: number; ready: number; fit: StoredObject<NodeRecord>[] } => {
    const key = `${sv.id}/${nodeId}`;
    let e = fitOf.get(key);
    if (!e) {
      const candidates = nodeId ? view.nodes.filter((n) => n.id === nodeId) : view.nodes;
      const ready = candidates.filter(isReady);
      e = { candidates: candidates.length, ready: ready.length, fit: ready.filter((n) => nodeMatches(sv.constraints, nodeFacts(n))) };
      fitOf.set(key, e);
    }
    return e;
  };
  for (const [, w] of pending) {
    const sv = services.get(w.task.ServiceID);
    if (!sv) continue;
    const { candidates: nCandidates, ready: nReady, fit } = eligible(sv, w.task.NodeID ?? '');
    if (fit.length === 0) {
      const why: string[] = [];
      const notReady = nCandidates - nReady;
      if (notReady > 0) why.push(`${notReady} ${plural(notReady, 'node', 'nodes')} not available for new tasks`);
      const unmet = nReady - fit.length;
      if (unmet > 0) why.push(`scheduling constraints not satisfied on ${unmet} ${plural(unmet, 'node', 'nodes')}`);
      const err = why.length > 0 ? `no suitable node (${why.join('; ')})` : 'no suitable node';
      const s = w.task.Status;
      if (s.State !== 'pending' || s.Err !== err) {
        w.task = { ...w.task, Status: { Timestamp: ts, State: 'pending', Message: 'pending task scheduling', Err: err } };
        w.changed = true;
      }
      continue;
    }
    const load = (n: StoredObject<NodeRecord>): [number, number] => [perService.get(`${n.id}/${sv.id}`) ?? 0, total.get(n.id) ?? 0];
    // The least loaded (fewest of this service, then fewest in all, then the lowest ID): one pass, not a sort.
    let n = fit[0]!;
    let [n1, n2] = load(n);
    for (const c of fit) {
      const [c1, c2] = load(c);
      if (c1 < n1 || (c1 === n1 && (c2 < n2 || (c2 === n2 && c.id < n.id)))) {
        n = c;
        n1 = c1;
        n2 = c2;
      }
    }
    w.task = { ...w.task, NodeID: n.id, Status: { Timestamp: ts, State: 'assigned', Message: 'scheduler assigned task to node' } };
    w.changed = true;
    total.set(n.id, (total.get(n.id) ?? 0) + 1);
    perService.set(`${n.id}/${sv.id}`, (perService.get(`${n.id}/${sv.id}`) ?? 0) + 1);
  }
}
