// The swarm settings a manager applies (Docker's swarm Spec fields that runsecrets honours), with swarmkit's
// defaults for what the cluster file does not set.
import type { ClusterConfig } from './state.js';

export const DEFAULT_TASK_HISTORY = 5;
/** 360 days: agents do not renew their certificates yet, so the default is not swarmkit's 90 days (2160h), which
 * comes with renewal there. */
export const DEFAULT_NODE_CERT_EXPIRY_MS = 360 * 24 * 3600_000;
export const MIN_NODE_CERT_EXPIRY_MS = 3600_000;
export const DEFAULT_HEARTBEAT_PERIOD_MS = 5_000;
/** Below this the agents' own clocks and the 2-core test machines make false "down" judgements likely. */
export const MIN_HEARTBEAT_PERIOD_MS = 50;

export interface ClusterSettings {
  autolock: boolean;
  taskHistory: number;
  nodeCertExpiryMs: number;
  heartbeatMs: number;
  labels: Record<string, string>;
}

export function settingsOf(c: ClusterConfig): ClusterSettings {
  return {
    autolock: c.autolock,
    taskHistory: c.taskHistory ?? DEFAULT_TASK_HISTORY,
    nodeCertExpiryMs: c.nodeCertExpiryMs ?? DEFAULT_NODE_CERT_EXPIRY_MS,
    heartbeatMs: c.heartbeatMs ?? DEFAULT_HEARTBEAT_PERIOD_MS,
    labels: c.labels ?? {},
  };
}

