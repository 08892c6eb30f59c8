// A tiny in-memory cluster for the orchestrator's unit tests: applies reconcile()'s plans as the store would, with a
// clock the test moves by hand (no timers, no sleeps).
import { reconcile, type Plan } from '../../manager/orchestrator/reconcile.js';
import { TASK_STATES, type NodeRecord, type ServiceRecord, type ServiceSpec, type TaskRecord, type TaskState } from '../../manager/orchestrator/types.js';
import type { Kind, StoredObject } from '../../manager/store/types.js';
import { formatRfc3339Nano } from '../../shared/time.js';

export class World {
  now = 1_700_000_000_000_000_000n;
  private index = 0;
  private ids = 0;
  services = new Map<string, StoredObject<ServiceRecord>>();
  tasks = new Map<string, StoredObject<TaskRecord>>();
  nodes = new Map<string, StoredObject<NodeRecord>>();
  lastPlan: Plan | null = null;

  private obj<S>(kind: Kind, id: string, spec: S, prev?: StoredObject<S>): StoredObject<S> {
    const ts = formatRfc3339Nano(this.now);
    this.now += 1000n; // every write a microsecond later, so creation order is visible in timestamps
    return { kind, id, name: null, version: ++this.index, createdAt: prev?.createdAt ?? ts, updatedAt: ts, spec };
  }

  addNode(id: string, o: { hostname?: string; labels?: Record<string, string>; availability?: NodeRecord['Spec']['Availability'] } = {}): void {
    this.nodes.set(
      id,
      this.obj<NodeRecord>('node', id, {
        Spec: { Labels: o.labels ?? {}, Role: 'worker', Availability: o.availability ?? 'active' },
        Description: { Hostname: o.hostname ?? `host-${id}`, Platform: { Architecture: 'x86_64', OS: 'linux' } },
        Status: { State: 'ready', Addr: '' },
        certSerials: [],
      }),
    );
  }

  setNode(id: string, f: (n: NodeRecord) => NodeRecord): void {
    const cur = this.nodes.get(id)!;
    this.nodes.set(id, this.obj('node', id, f(structuredClone(cur.spec)), cur));
  }

  removeNode(id: string): void {
    this.nodes.delete(id);
  }

  /** As the API's create or update: the old spec becomes PreviousSpec and UpdateStatus is reset. */
  setService(id: string, spec: Omit<ServiceSpec, 'Name'> & { Name?: string }): void {
    const cur = this.services.get(id);
    const full = { Name: id, ...spec } as ServiceSpec;
    this.services.set(id, this.obj<ServiceRecord>('service', id, { Spec: full, ...(cur ? { PreviousSpec: cur.spec.Spec } : {}) }, cur));
  }

  /** As the API's create or update of a job: JobStatus set at create, its iteration incremented by every update. */
  setJob(id: string, spec: Omit<ServiceSpec, 'Name'> & { Name?: string }): void {
    const cur = this.services.get(id);
    const full = { Name: id, ...spec } as ServiceSpec;
    const index = cur?.spec.JobStatus ? cur.spec.JobStatus.JobIteration.Index + 1 : 0;
    const rec: ServiceRecord = { Spec: full, JobStatus: { JobIteration: { Index: index }, LastExecution: formatRfc3339Nano(this.now) } };
    if (cur) rec.PreviousSpec = cur.spec.Spec;
    this.services.set(id, this.obj<ServiceRecord>('service', id, rec, cur));
  }

  /** As `POST /services/{id}/update?rollback=previous`: Spec and PreviousSpec swap; a rollback starts. */
  rollback(id: string): void {
    const cur = this.services.get(id)!;
    const rec: ServiceRecord = {
      Spec: cur.spec.PreviousSpec!,
      PreviousSpec: cur.spec.Spec,
      UpdateStatus: { State: 'rollback_started', StartedAt: formatRfc3339Nano(this.now), Message: 'manually requested rollback' },
    };
    this.services.set(id, this.obj('service', id, rec, cur));
  }

  /** What agents would do with the current desired states: start what should run, stop what should not. Returns
   * how many tasks changed. */
  agents(): number {
    let n = 0;
    for (const t of [...this.tasks.values()]) {
      const s = t.spec;
      if (!s.NodeID || s.Status.State === 'new' || s.Status.State === 'pending') continue;
      const rank = TASK_STATES.indexOf(s.Status.State);
      // A job's task (desired `complete`) is sent to its agent as running (dispatcher/assignments.ts).
      if ((s.DesiredState === 'running' || s.DesiredState === 'complete') && rank < TASK_STATES.indexOf('running')) {
        this.report(t.id, 'running');
        n++;
      } else if ((s.DesiredState === 'shutdown' || s.DesiredState === 'remove') && rank > TASK_STATES.indexOf('assigned') && rank <= TASK_STATES.indexOf('running')) {
        // An agent reports the stop of what it started only (a task it never started is dropped silently).
        this.report(t.id, 'shutdown');
        n++;
      }
    }
    return n;
  }

  removeService(id: string): void {
    this.services.delete(id);
  }

  /** What an agent would report. */
  report(taskId: string, state: TaskState, exitCode?: number): void {
    const cur = this.tasks.get(taskId)!;
    const spec: TaskRecord = { ...cur.spec, Status: { Timestamp: formatRfc3339Nano(this.now), State: state, Message: state } };
    if (exitCode !== undefined) spec.Status.ContainerStatus = { ExitCode: exitCode };
    this.tasks.set(taskId, this.obj('task', taskId, spec, cur));
  }

  /** Runs reconcile until it plans nothing more (as the loop does on its own writes' events). */
  settle(): void {
    for (let i = 0; i < 20; i++) {
      const plan = reconcile(
        { services: [...this.services.values()], tasks: [...this.tasks.values()], nodes: [...this.nodes.values()] },
        this.now,
        () => `t${String(++this.ids).padStart(4, '0')}`,
      );
      this.lastPlan = plan;
      if (plan.create.length + plan.update.length + plan.delete.length + plan.services.length === 0) return;
      for (const d of plan.delete) this.tasks.delete(d.id);
      for (const u of plan.update) {
        const cur = this.tasks.get(u.id)!;
        if (cur.version !== u.version) throw new Error(`stale update of ${u.id}`);
        this.tasks.set(u.id, this.obj('task', u.id, u.task, cur));
      }
      for (const c of plan.create) this.tasks.set(c.id, this.obj('task', c.id, c.task));
      for (const sv of plan.services) {
        const cur = this.services.get(sv.id)!;
        if (cur.version !== sv.version) throw new Error(`stale update of service ${sv.id}`);
        this.services.set(sv.id, this.obj('service', sv.id, sv.service, cur));
      }
    }
    throw new Error('reconcile did not settle in 20 rounds');
  }

  /** Reconcile and agents in turn, the clock moving a second whenever nothing moves, for `seconds` seconds. */
  converge(seconds = 30): void {
    for (let i = 0; i < seconds; ) {
      this.settle();
      if (this.agents() === 0) {
        this.advance(1_000_000_000n);
        i++;
      }
    }
    this.settle();
  }

  advance(ns: bigint): void {
    this.now += ns;
  }

  of(service: string): StoredObject<TaskRecord>[] {
    return [...this.tasks.values()].filter((t) => t.spec.ServiceID === service);
  }
  live(service: string): StoredObject<TaskRecord>[] {
    return this.of(service).filter((t) => t.spec.DesiredState === 'running' || t.spec.DesiredState === 'ready');
  }
  perNode(service: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.live(service)) out[t.spec.NodeID] = (out[t.spec.NodeID] ?? 0) + 1;
    return out;
  }
}

export function spec(o: { replicas?: number; global?: boolean; constraints?: string[]; restart?: Record<string, unknown>; image?: string; secrets?: unknown[]; force?: number } = {}): Omit<ServiceSpec, 'Name'> {
  const tt: Record<string, unknown> = { ContainerSpec: { Image: o.image ?? 'alpine', Args: ['sleep', '1d'], Secrets: o.secrets ?? [] } };
  if (o.constraints) tt.Placement = { Constraints: o.constraints };
  tt.RestartPolicy = { Condition: 'any', Delay: 0, ...(o.restart ?? {}) };
  if (o.force !== undefined) tt.ForceUpdate = o.force;
  return { TaskTemplate: tt, Mode: o.global ? { Global: {} } : { Replicated: { Replicas: o.replicas ?? 1 } } };
}
