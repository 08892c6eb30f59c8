// The swarm settings a manager applies (Docker's swarm Spec fields that runsecrets honours), with swarmkit's
// defaults for what the cluster file does not set.
import type { ClusterConfig } from './state.js';

export const DEFAULT_TASK_HISTORY = 5;
/** swarmkit's 90 days (2160h): agents renew at 50-80 % of it (agent/session/cert-renewal.ts). */
export const DEFAULT_NODE_CERT_EXPIRY_MS = 90 * 24 * 3600_000;
/** Docker's minimum for CAConfig.NodeCertExpiry; the API keeps it. */
export const MIN_NODE_CERT_EXPIRY_MS = 3600_000;
/** Tests only: RUNSECRETS_NODE_CERT_EXPIRY_MS (at least this) replaces the setting for issued node certificates. */
export const MIN_TEST_NODE_CERT_EXPIRY_MS = 10_000;
export const DEFAULT_HEARTBEAT_PERIOD_MS = 5_000;
/** Below this the agents' own clocks and the 2-core test machines make false "down" judgements likely. */
export const MIN_HEARTBEAT_PERIOD_MS = 50;

export interface ClusterSettings {
  autolock: boolean;
  taskHistory: number;
  nodeCertExpiryMs: number;
  heartbeatMs: number;
  labels: Record<string, string>;
  /** Docker's CAConfig.ForceRotate: a change starts a root CA rotation. */
  forceRotate: number;
}

export function settingsOf(c: ClusterConfig): ClusterSettings {
  return {
    autolock: c.autolock,
    taskHistory: c.taskHistory ?? DEFAULT_TASK_HISTORY,
    nodeCertExpiryMs: c.nodeCertExpiryMs ?? DEFAULT_NODE_CERT_EXPIRY_MS,
    heartbeatMs: c.heartbeatMs ?? DEFAULT_HEARTBEAT_PERIOD_MS,
    labels: c.labels ?? {},
    forceRotate: c.forceRotate ?? 0,
  };
}

/** The validity of node certificates issued now: the swarm's setting, or the tests' override (whose minimum is
 * below Docker's 1 hour, so that a test sees renewals). */
export function nodeCertValidityMs(c: ClusterConfig): number {
  const env = process.env.RUNSECRETS_NODE_CERT_EXPIRY_MS;
  if (env === undefined || env === '') return settingsOf(c).nodeCertExpiryMs;
  const v = Number(env);
  if (!Number.isSafeInteger(v) || v < MIN_TEST_NODE_CERT_EXPIRY_MS) {
    throw new Error(`invalid RUNSECRETS_NODE_CERT_EXPIRY_MS "${env}": expected milliseconds, at least ${MIN_TEST_NODE_CERT_EXPIRY_MS}`);
  }
  return v;
}

