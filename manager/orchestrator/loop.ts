// Runs the pure reconcile (./reconcile.ts) whenever services, tasks or nodes change (the store's watch) and when a
// restart delay ends, and applies its plan through the store. One run at a time; changes during a run trigger one
// more. A write refused because the object changed meanwhile is simply dropped: that change's own event brings
// another run, which plans from the new state.
import type { Logger } from '../../shared/log.js';
import { newId } from '../../shared/ids.js';
import { nowNs } from '../../shared/time.js';
import type { Store, Unwatch } from '../store/types.js';
import { NotFoundError, SequenceConflictError, StoreClosedError } from '../store/errors.js';
import { reconcile } from './reconcile.js';

export class Orchestrator {
  private unwatch: Unwatch | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    /** The swarm's task history limit, read at each run (POST /swarm/update may change it). */
    private readonly taskHistory: () => number | undefined = () => undefined,
    /** Whether this manager may orchestrate now (with etcd: while it leads); asked at each kick and run. */
    private readonly mayRun: () => boolean = () => true,
  ) {}

  async start(): Promise<void> {
    this.unwatch = await this.store.watch(await this.store.currentIndex(), (e) => {
      if (e.kind === 'service' || e.kind === 'task' || e.kind === 'node') this.kick();
    });
    this.kick();
  }

  /** Asks for a run; runs asked for while one is going coalesce into one more. */
  kick(): void {
    if (this.stopped || !this.mayRun()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await new Promise((r) => setImmediate(r)); // let the events of one commit group arrive first
        if (!this.mayRun()) break; // leadership lost meanwhile: the next leader plans from the stored state
        try {
          await this.runOnce();
        } catch (err) {
          if (!(err instanceof StoreClosedError)) this.log.error({ err: (err as Error).message }, 'orchestrator run failed');
        }
      } while (this.again && !this.stopped);
      this.running = null;
    })();
  }

  /** Resolves once no run is going or asked for (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private async runOnce(): Promise<void> {
    const [services, tasks, nodes] = await Promise.all([
      this.store.list('service'),
      this.store.list('task'),
      this.store.list('node'),
    ]);
    const taskHistory = this.taskHistory();
    const plan = reconcile({ services, tasks, nodes, ...(taskHistory === undefined ? {} : { taskHistory }) }, nowNs(), newId);
    const writes: Promise<unknown>[] = [];
    const dropStale = (p: Promise<unknown>): Promise<unknown> =>
      p.catch((err: unknown) => {
        if (err instanceof SequenceConflictError || err instanceof NotFoundError) return;
        throw err;
      });
    for (const c of plan.create) writes.push(this.store.create('task', { id: c.id, name: null, spec: c.task }));
    for (const u of plan.update) writes.push(dropStale(this.store.update('task', u.id, u.version, u.task)));
    for (const s of plan.services) writes.push(dropStale(this.store.update('service', s.id, s.version, s.service)));
    for (const d of plan.delete) {
      const cur = await this.store.get('task', d.id);
      if (cur && cur.version === d.version) writes.push(dropStale(this.store.delete('task', d.id)));
    }
    await Promise.all(writes);
    if (writes.length > 0) {
      this.log.debug({ created: plan.create.length, updated: plan.update.length, deleted: plan.delete.length, services: plan.services.length }, 'orchestrator applied a plan');
      for (const s of plan.services) {
        const st = s.service.UpdateStatus;
        if (st) this.log.info({ service: s.id, state: st.State, message: st.Message }, 'service update status');
      }
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (plan.wakeAt !== null && !this.stopped) {
      const ms = Number((plan.wakeAt - nowNs()) / 1_000_000n) + 1;
      this.timer = setTimeout(() => this.kick(), Math.max(0, ms));
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    if (this.timer) clearTimeout(this.timer);
    await this.settled();
  }
}
