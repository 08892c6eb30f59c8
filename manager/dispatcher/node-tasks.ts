// Which tasks name which node, kept from the store's task events (swarmkit's per-node assignment set): a commit
// that changes one task wakes the session of its node (and of the node it left) only, and that session looks at
// its own tasks rather than every task in the cluster. Before, every task commit made all N sessions filter all
// T tasks (N x T per commit: 20 x 1,000 while 1,000 tasks started, each start 4 commits).
import type { StoreEvent, StoredObject } from '../store/types.js';
import type { TaskRecord } from '../orchestrator/types.js';

export class NodeTasks {
  private readonly byNode = new Map<string, Set<string>>();
  private readonly nodeOf = new Map<string, string>();

  /** Fills the index from a listing (at start); events applied after it are idempotent. */
  load(tasks: Array<StoredObject<TaskRecord>>): void {
    for (const t of tasks) this.place(t.id, t.spec.NodeID);
  }

  /** Applies a task event; returns the nodes whose assignments it may change (the task's old and new node). */
  apply(e: StoreEvent): string[] {
    const before = this.nodeOf.get(e.id);
    const spec = e.object?.spec as Partial<TaskRecord> | undefined;
    const after = e.action === 'delete' ? undefined : spec?.NodeID;
    this.place(e.id, after);
    return [...new Set([before, after].filter((n): n is string => !!n))];
  }

  /** The IDs of the tasks that name this node (any state: the caller filters). */
  tasksOf(nodeId: string): string[] {
    return [...(this.byNode.get(nodeId) ?? [])];
  }

  private place(taskId: string, nodeId: string | undefined): void {
    const old = this.nodeOf.get(taskId);
    if (old === nodeId) return;
    if (old !== undefined) {
      const s = this.byNode.get(old);
      s?.delete(taskId);
      if (s?.size === 0) this.byNode.delete(old);
      this.nodeOf.delete(taskId);
    }
    if (!nodeId) return;
    this.nodeOf.set(taskId, nodeId);
    let s = this.byNode.get(nodeId);
    if (!s) this.byNode.set(nodeId, (s = new Set()));
    s.add(taskId);
  }
}
