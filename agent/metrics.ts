// The agent's metrics (managed and standalone). Event counters and histograms are module-wide (one agent per
// process), recorded where things happen (FUSE requests, kernel notifications, the session); counts are read from
// the tree, the executor and the session when scraped. Labels: FUSE operation types, change kinds, task states and
// reasons, never a task's, secret's or file's name.
import { Counter, Histogram, Registry } from '../shared/metrics/registry.js';
import { registerProcessMetrics } from '../shared/metrics/process.js';
import { Op } from './fs/fuse-protocol.js';

const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([name, code]) => [code, name.toLowerCase()]));

/** A bounded label for a FUSE opcode: its name, or "other" for an opcode we do not know. */
export function fuseOpName(opcode: number): string {
  return OP_NAMES.get(opcode) ?? 'other';
}

export const fuseOperations = new Counter('runsecrets_agent_fuse_operations_total');
/** From a change of the tree (grant, rotation, revoke) until the kernel has taken every invalidation: the change is
 * visible to all readers. change: grant (names appear or change) or revoke (names removed). */
export const changePublishSeconds = new Histogram('runsecrets_agent_change_publish_seconds');
/** Managed: from an assignment's arrival until its files are published (and its new tasks started). */
export const assignmentApplySeconds = new Histogram('runsecrets_agent_assignment_apply_seconds');
export const heartbeatRttSeconds = new Histogram('runsecrets_agent_heartbeat_rtt_seconds');
export const sessionConnects = new Counter('runsecrets_agent_session_connects_total');
/** Input refused, by reason: manifest (standalone), frame (a message from the manager that does not parse). */
export const refusedInputs = new Counter('runsecrets_agent_refused_total');

export interface AgentMetricsSource {
  mode: 'managed' | 'standalone';
  taskFolders(): number;
  /** Inodes the tree holds (files, folders, and versions still open by readers). */
  inodes(): number;
  /** Managed: the executor's tasks by state. */
  tasksByState?(): Array<[string, number]>;
  /** Managed: connected to the manager now. */
  connected?(): boolean;
  /** Managed: seconds since the manager was last heard from (null before the first connection). */
  heartbeatAgeSeconds?(): number | null;
}

export function agentRegistry(src: AgentMetricsSource): Registry {
  const r = new Registry();
  r.gauge('runsecrets_agent_info', 'Always 1; the mode label says managed or standalone.', () => [[{ mode: src.mode }, 1]]);
  r.gauge('runsecrets_agent_task_folders', 'Task folders on the mount.', () => src.taskFolders());
  r.gauge('runsecrets_agent_inodes', 'Inodes of the secrets filesystem (files, folders, old versions still open).', () => src.inodes());
  if (src.tasksByState) {
    const byState = src.tasksByState;
    r.gauge('runsecrets_agent_tasks', 'Task processes of this agent, by state.', () => byState().map(([state, n]) => [{ state }, n]));
  }
  if (src.connected) {
    const connected = src.connected;
    r.gauge('runsecrets_agent_session_connected', '1 while connected to the manager, else 0.', () => (connected() ? 1 : 0));
    r.add(sessionConnects.name, 'Sessions opened with the manager (first connection and reconnections).', 'counter', sessionConnects);
  }
  if (src.heartbeatAgeSeconds) {
    const age = src.heartbeatAgeSeconds;
    r.gauge('runsecrets_agent_heartbeat_age_seconds', 'Seconds since the manager was last heard from.', () => age() ?? []);
    r.add(heartbeatRttSeconds.name, 'Heartbeat round trips to the manager, in seconds.', 'histogram', heartbeatRttSeconds);
    r.add(assignmentApplySeconds.name, "An assignment's arrival until its files are published, in seconds.", 'histogram', assignmentApplySeconds);
  }
  r.add(fuseOperations.name, 'FUSE requests served, by operation.', 'counter', fuseOperations);
  r.add(changePublishSeconds.name, 'A change of the files until the kernel took its invalidations, by change (grant, revoke), in seconds.', 'histogram', changePublishSeconds);
  r.add(refusedInputs.name, 'Input refused, by reason (manifest, frame).', 'counter', refusedInputs);
  registerProcessMetrics(r);
  return r;
}
