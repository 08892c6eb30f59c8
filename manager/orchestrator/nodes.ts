// The internal ways in for nodes and task states: what the dispatcher will call when agents register, heartbeat
// and report, and what tests call today. Deliberately not API routes: a node's identity will come from its
// certificate, never from a request.
import { newId } from '../../shared/ids.js';
import { nowRfc3339Nano } from '../../shared/time.js';
import type { Store, StoredObject } from '../store/types.js';
import { stateRank, type Membership, type NodeRecord, type NodeState, type TaskRecord, type TaskState } from './types.js';

export interface RegisterNode {
  id?: string;
  hostname: string;
  /** Manager-set node labels (Spec.Labels); a joiner never chooses these. */
  labels?: Record<string, string>;
  /** What the node reports about itself (Description.Engine.Labels): untrusted. */
  engineLabels?: Record<string, string>;
  membership?: Membership;
  addr?: string;
  certSerial?: string;
  availability?: NodeRecord['Spec']['Availability'];
}

export async function registerNode(store: Store, n: RegisterNode): Promise<StoredObject<NodeRecord>> {
  const rec: NodeRecord = {
    Spec: { Labels: n.labels ?? {}, Role: 'worker', Membership: n.membership ?? 'accepted', Availability: n.availability ?? 'active' },
    Description: {
      Hostname: n.hostname,
      Platform: { Architecture: process.arch === 'x64' ? 'x86_64' : process.arch, OS: 'linux' },
      Engine: { Labels: n.engineLabels ?? {} },
    },
    Status: { State: 'ready', Addr: n.addr ?? '' },
    certSerials: n.certSerial ? [n.certSerial] : [],
  };
  return store.create('node', { id: n.id ?? newId(), name: null, spec: rec });
}

/** Sets a node's status (ready, down: e.g. after missed heartbeats). Retries on concurrent writes. */
export async function setNodeState(store: Store, id: string, state: NodeState, message?: string): Promise<void> {
  for (;;) {
    const cur = await store.get('node', id);
    if (!cur) throw new Error(`node ${id} not found`);
    const Status = { ...cur.spec.Status, State: state };
    if (message) Status.Message = message;
    else delete Status.Message;
    try {
      await store.update('node', id, cur.version, { ...cur.spec, Status });
      return;
    } catch (err) {
      if ((err as Error).name !== 'SequenceConflictError') throw err;
    }
  }
}

export interface StatusReport {
  state: TaskState;
  message?: string;
  err?: string;
  exitCode?: number;
}

/** A task's state as its agent reports it. States only move forward; a report of an older state is ignored. */
export async function reportTaskStatus(store: Store, id: string, r: StatusReport): Promise<boolean> {
  for (;;) {
    const cur = await store.get('task', id);
    if (!cur) throw new Error(`task ${id} not found`);
    if (stateRank(r.state) < stateRank(cur.spec.Status.State)) return false;
    const s = cur.spec.Status;
    // A replayed report (e.g. resent after a reconnection) changes nothing: no write, no new index.
    if (r.state === s.State && (r.message ?? r.state) === s.Message && r.err === s.Err && r.exitCode === s.ContainerStatus?.ExitCode) return false;
    const Status: TaskRecord['Status'] = { Timestamp: nowRfc3339Nano(), State: r.state, Message: r.message ?? r.state };
    if (r.err) Status.Err = r.err;
    if (r.exitCode !== undefined) Status.ContainerStatus = { ExitCode: r.exitCode };
    try {
      await store.update('task', id, cur.version, { ...cur.spec, Status });
      return true;
    } catch (err) {
      if ((err as Error).name !== 'SequenceConflictError') throw err;
    }
  }
}

/**
 * Node rows written before node and engine labels were split kept the joiner's own `--label`s in Spec.Labels,
 * where `node.labels.KEY` constraints trusted them. Those labels were chosen by the node, so they become engine
 * labels (untrusted); a manager sets node labels again with `node update --label-add`. Returns the rows moved.
 */
export async function migrateNodeRows(store: Store): Promise<string[]> {
  const moved: string[] = [];
  for (const n of await store.list('node')) {
    if (n.spec.Description.Engine) continue;
    const Description = { ...n.spec.Description, Engine: { Labels: n.spec.Spec.Labels ?? {} } };
    const Spec = { ...n.spec.Spec, Labels: {}, Membership: n.spec.Spec.Membership ?? 'accepted' };
    try {
      await store.update('node', n.id, n.version, { ...n.spec, Spec, Description });
      moved.push(n.id);
    } catch (err) {
      // Only the manager writes nodes, and it migrates before anything else runs; a conflict means a bug.
      throw new Error(`migrating node ${n.id} to engine labels: ${(err as Error).message}`);
    }
  }
  return moved;
}
