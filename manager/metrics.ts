// The manager's metrics. The event counters and histograms live here, module-wide (one manager per process), so
// the router, listeners, dispatcher and store record into them without being handed anything; the counts of
// objects are read from the store when scraped. Labels: kinds, states and refusal reasons only, never a name.
import { Counter, Histogram, Registry } from '../shared/metrics/registry.js';
import { registerProcessMetrics } from '../shared/metrics/process.js';
import type { Store } from './store/types.js';
import { TASK_STATES } from './orchestrator/types.js';

/** Requests and connections refused, by reason: no-cert, revoked, handshake (TLS), unauthorized, forbidden,
 * locked (API), session (agent sessions refused). */
export const refusedRequests = new Counter('runsecrets_manager_refused_requests_total');
export const storeCommitSeconds = new Histogram('runsecrets_manager_store_commit_seconds');
export const storeCommittedWrites = new Counter('runsecrets_manager_store_committed_writes_total');

/** The refusal reason of an API error status, or null for an answer that is no refusal (404, 409 …). */
export function refusalReason(status: number): string | null {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 503) return 'locked';
  return null;
}

export interface ManagerMetricsSource {
  store(): Store | null; // null while locked
  locked(): boolean;
  sessions(): number;
  /** Seconds since each connected agent was last heard from. */
  heartbeatAges(): number[];
  heartbeatPeriodSeconds(): number;
}

function countBy<T>(items: T[], label: string, key: (t: T) => string, known: readonly string[]): Array<[Record<string, string>, number]> {
  const counts = new Map<string, number>(known.map((k) => [k, 0]));
  for (const i of items) counts.set(key(i), (counts.get(key(i)) ?? 0) + 1);
  return [...counts].map(([k, n]) => [{ [label]: k }, n]);
}

const NODE_STATES = ['unknown', 'down', 'ready', 'disconnected'] as const;

export function managerRegistry(src: ManagerMetricsSource): Registry {
  const r = new Registry();
  const count = (kind: 'secret' | 'config' | 'service') => async () => {
    const st = src.store();
    return st ? (await st.list(kind)).length : [];
  };
  r.gauge('runsecrets_manager_locked', '1 while the manager waits for its unlock key (autolock), else 0.', () => (src.locked() ? 1 : 0));
  r.gauge('runsecrets_manager_secrets', 'Secrets in the store.', count('secret'));
  r.gauge('runsecrets_manager_configs', 'Configs in the store.', count('config'));
  r.gauge('runsecrets_manager_services', 'Services in the store.', count('service'));
  r.gauge('runsecrets_manager_tasks', 'Tasks in the store, by current state.', async () => {
    const st = src.store();
    return st ? countBy(await st.list('task'), 'state', (t) => t.spec.Status.State, TASK_STATES) : [];
  });
  r.gauge('runsecrets_manager_nodes', 'Worker nodes in the store, by state.', async () => {
    const st = src.store();
    return st ? countBy(await st.list('node'), 'state', (n) => n.spec.Status.State, NODE_STATES) : [];
  });
  r.gauge('runsecrets_manager_sessions', 'Agents connected now (one session each).', () => src.sessions());
  r.gauge('runsecrets_manager_heartbeat_age_max_seconds', 'The longest time since a connected agent was last heard from.', () =>
    src.heartbeatAges().reduce((a, b) => Math.max(a, b), 0),
  );
  r.gauge('runsecrets_manager_heartbeat_period_seconds', "The agents' heartbeat period; a node silent for 3 periods is marked down.", () => src.heartbeatPeriodSeconds());
  r.add(storeCommitSeconds.name, 'Store group commits: from the hand-off to the writer until COMMIT (fsync) returned, in seconds.', 'histogram', storeCommitSeconds);
  r.add(storeCommittedWrites.name, 'Writes committed to the store.', 'counter', storeCommittedWrites);
  r.add(refusedRequests.name, 'Requests and connections refused, by reason.', 'counter', refusedRequests);
  registerProcessMetrics(r);
  return r;
}
