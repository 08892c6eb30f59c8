// The internal ways in for nodes and task states: what the dispatcher will call when agents register, heartbeat
// and report, and what tests call today. Deliberately not API routes: a node's identity will come from its
// certificate, never from a request.
import { newId } from '../../shared/ids.js';
import { nowRfc3339Nano } from '../../shared/time.js';
import type { Store, StoredObject } from '../store/types.js';
import { stateRank, type NodeRecord, type NodeState, type TaskRecord, type TaskState } from './types.js';

export interface RegisterNode {
  id?: string;
  hostname: string;
  labels?: Record<string, string>;
  addr?: string;
  certSerial?: string;
  availability?: NodeRecord['Spec']['Availability'];
}

export async function registerNode(store: Store, n: RegisterNode): Promise<StoredObject<NodeRecord>> {
  const rec: NodeRecord = {
    Spec: { Labels: n.labels ?? {}, Role: 'worker', Availability: n.availability ?? 'active' },
    Description: { Hostname: n.hostname, Platform: { Architecture: process.arch === 'x64' ? 'x86_64' : process.arch, OS: 'linux' } },
    Status: { State: 'ready', Addr: n.addr ?? '' },
    certSerials: n.certSerial ? [n.certSerial] : [],
  };
  return store.create<NodeRecord>('node', { id: n.id ?? newId(), name: null, spec: rec });
}

/** Sets a node's status (ready, down: e.g. after missed heartbeats). Retries on concurrent writes. */
export async function setNodeState(store: Store, id: string, state: NodeState, message?: string): Promise<void> {
  for (;;) {
    const cur = await store.get<NodeRecord>('node', id);
    if (!cur) throw new Error(`node ${id} not found`);
    const Status = { ...cur.spec.Status, State: state };
    if (message) Status.Message = message;
    else delete Status.Message;
    try {
      await store.update<NodeRecord>('node', id, cur.version, { ...cur.spec, Status });
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
    const cur = await store.get<TaskRecord>('task', id);
    if (!cur) throw new Error(`task ${id} not found`);
    if (stateRank(r.state) < stateRank(cur.spec.Status.State)) return false;
    const s = cur.spec.Status;
    // A replayed report (e.g. resent after a reconnection) changes nothing: no write, no new index.
    if (r.state === s.State && (r.message ?? r.state) === s.Message && r.err === s.Err && r.exitCode === s.ContainerStatus?.ExitCode) return false;
    const Status: TaskRecord['Status'] = { Timestamp: nowRfc3339Nano(), State: r.state, Message: r.message ?? r.state };
    if (r.err) Status.Err = r.err;
    if (r.exitCode !== undefined) Status.ContainerStatus = { ExitCode: r.exitCode };
    try {
      await store.update<TaskRecord>('task', id, cur.version, { ...cur.spec, Status });
      return true;
    } catch (err) {
      if ((err as Error).name !== 'SequenceConflictError') throw err;
    }
  }
}
