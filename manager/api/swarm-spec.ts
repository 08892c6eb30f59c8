// The swarm's own settings (Docker's swarm Spec) as the manager holds them, and `POST /swarm/update` decided
// without side effects. Rules:
// - GET /swarm shows the whole Spec with Docker's defaults, so that the CLI, which GETs, changes one field and POSTs
//   the whole Spec back (moby converts it onto an empty spec, never merged), sends unchanged values unchanged.
// - A field we apply: autolock, task history limit, node certificate expiry, dispatcher heartbeat, labels.
// - CAConfig.ForceRotate: a change starts a root CA rotation (cluster/state.ts, pki/node-certs.ts).
//   So do SigningCACert and SigningCAKey (a given root to rotate to).
// - A field we cannot honour (Raft tuning: we run no Raft; external CAs) is
//   refused when it differs from what GET shows, naming the field: never "updated" while ignored.
// - Docker's texts for its own validation errors (reference §9.1).
import { ApiError } from './http.js';
import { decodeObject, decodeStringMap, field, jsonTypeName } from './decode.js';
import type { ClusterConfig } from '../cluster/state.js';
import {
  DEFAULT_HEARTBEAT_PERIOD_MS, DEFAULT_NODE_CERT_EXPIRY_MS, MIN_HEARTBEAT_PERIOD_MS, MIN_NODE_CERT_EXPIRY_MS, settingsOf, type ClusterSettings,
} from '../cluster/settings.js';

/** Docker's Raft defaults (1 tick = 1 s): shown, and fixed (runsecrets keeps state in SQLite, not Raft). */
const RAFT = { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 };

/** Docker's swarm Spec for these settings, every default filled (reference §9.1). */
export function swarmSpecOf(c: ClusterConfig): Record<string, unknown> {
  const s = settingsOf(c);
  return {
    Name: 'default',
    Labels: s.labels,
    Orchestration: { TaskHistoryRetentionLimit: s.taskHistory },
    Raft: { ...RAFT },
    Dispatcher: { HeartbeatPeriod: s.heartbeatMs * 1_000_000 },
    CAConfig: { NodeCertExpiry: s.nodeCertExpiryMs * 1_000_000, ...(s.forceRotate !== 0 ? { ForceRotate: s.forceRotate } : {}) },
    TaskDefaults: {},
    EncryptionConfig: { AutoLockManagers: s.autolock },
  };
}

function sub(spec: Record<string, unknown>, name: string): Record<string, unknown> {
  return decodeObject(field(spec, name), `swarm.${name}Config`) ?? {};
}

function int(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  // Not isSafeInteger: durations in ns pass 2^53 (a year is 3.15e16), and Go's int64 holds them.
  if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > 9.2e18) {
    throw new ApiError(400, `invalid JSON: json: cannot unmarshal ${jsonTypeName(v)} into Go struct field ${path} of type int64`);
  }
  return v;
}

/**
 * The settings a full Spec asks for, against the current ones. Throws ApiError(400) naming what is invalid or
 * what runsecrets cannot honour. Absent or zero durations keep their defaults, as swarmkit's own defaults fill them.
 */
export function settingsFromSpec(body: unknown, current: ClusterSettings): ClusterSettings {
  const spec = decodeObject(body, 'swarm.Spec') ?? {};
  const name = field(spec, 'Name');
  if (name !== undefined && name !== null && name !== '' && name !== 'default') throw new ApiError(400, 'modification of cluster name is not allowed');
  const refuse = (what: string): never => {
    throw new ApiError(400, `runsecrets does not support changing ${what}: the manager keeps its state in SQLite (or etcd), not in Raft; leave it as GET /swarm shows it`);
  };

  const raft = sub(spec, 'Raft');
  for (const [k, dflt] of Object.entries(RAFT)) {
    const v = int(field(raft, k), `Spec.Raft.${k}`);
    if (v !== undefined && v !== 0 && v !== dflt) refuse(`Spec.Raft.${k}`);
  }

  const ca = sub(spec, 'CAConfig');
  const ext = field(ca, 'ExternalCAs');
  if (ext !== undefined && ext !== null && !(Array.isArray(ext) && ext.length === 0)) {
    throw new ApiError(400, "runsecrets does not support Spec.CAConfig.ExternalCAs: the cluster CA is the manager's own");
  }
  signingCaFromSpec(body); // its errors before any change
  // A changed ForceRotate starts a root rotation (swarm.ts); absent counts as 0, as Go's decoder leaves it.
  const forceRotate = int(field(ca, 'ForceRotate'), 'Spec.CAConfig.ForceRotate') ?? 0;
  if (forceRotate < 0) throw new ApiError(400, `invalid JSON: json: cannot unmarshal number ${forceRotate} into Go struct field CAConfig.Spec.CAConfig.ForceRotate of type uint64`);
  const expiryNs = int(field(ca, 'NodeCertExpiry'), 'Spec.CAConfig.NodeCertExpiry');
  let nodeCertExpiryMs = current.nodeCertExpiryMs;
  if (expiryNs !== undefined && expiryNs !== 0) {
    nodeCertExpiryMs = Math.floor(expiryNs / 1_000_000);
    if (nodeCertExpiryMs < MIN_NODE_CERT_EXPIRY_MS) throw new ApiError(400, 'minimum certificate expiry time is: 1h0m0s');
  } else if (expiryNs === 0) nodeCertExpiryMs = DEFAULT_NODE_CERT_EXPIRY_MS;

  const disp = sub(spec, 'Dispatcher');
  const hbNs = int(field(disp, 'HeartbeatPeriod'), 'Spec.Dispatcher.HeartbeatPeriod');
  let heartbeatMs = current.heartbeatMs;
  if (hbNs !== undefined) {
    if (hbNs < 0) throw new ApiError(400, 'heartbeat time period cannot be a negative duration');
    heartbeatMs = hbNs === 0 ? DEFAULT_HEARTBEAT_PERIOD_MS : Math.floor(hbNs / 1_000_000);
    if (heartbeatMs < MIN_HEARTBEAT_PERIOD_MS) throw new ApiError(400, `heartbeat period must be at least ${MIN_HEARTBEAT_PERIOD_MS}ms`);
  }

  const orch = sub(spec, 'Orchestration');
  const history = int(field(orch, 'TaskHistoryRetentionLimit'), 'Spec.Orchestration.TaskHistoryRetentionLimit');

  const enc = sub(spec, 'EncryptionConfig');
  const auto = field(enc, 'AutoLockManagers');
  if (auto !== undefined && auto !== null && typeof auto !== 'boolean') {
    throw new ApiError(400, `invalid JSON: json: cannot unmarshal ${jsonTypeName(auto)} into Go struct field EncryptionConfig.Spec.EncryptionConfig.AutoLockManagers of type bool`);
  }

  return {
    autolock: auto === true,
    taskHistory: history ?? current.taskHistory,
    nodeCertExpiryMs,
    heartbeatMs,
    labels: decodeStringMap(field(spec, 'Labels'), 'Spec.Labels') ?? {},
    forceRotate,
  };
}

/** A root given for a rotation (Spec.CAConfig.SigningCACert and SigningCAKey, `swarm ca --rotate --ca-cert --ca-key`),
 * or null. Both or neither; never shown by GET /swarm, as in Docker. */
export function signingCaFromSpec(body: unknown): { certPem: string; keyPem: string } | null {
  const ca = sub(decodeObject(body, 'swarm.Spec') ?? {}, 'CAConfig');
  const str = (k: string): string => {
    const v = field(ca, k);
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new ApiError(400, `invalid JSON: json: cannot unmarshal ${jsonTypeName(v)} into Go struct field CAConfig.Spec.CAConfig.${k} of type string`);
    return v;
  };
  const certPem = str('SigningCACert');
  const keyPem = str('SigningCAKey');
  if (certPem === '' && keyPem === '') return null;
  if (certPem === '' || keyPem === '') throw new ApiError(400, 'a signing CA certificate and its key must be given together (SigningCACert, SigningCAKey)');
  return { certPem, keyPem };
}

/** The names of what changed, for the log line and the answer. */
export function changedSettings(a: ClusterSettings, b: ClusterSettings): string[] {
  const out: string[] = [];
  if (a.autolock !== b.autolock) out.push('autolock');
  if (a.taskHistory !== b.taskHistory) out.push('taskHistory');
  if (a.nodeCertExpiryMs !== b.nodeCertExpiryMs) out.push('nodeCertExpiry');
  if (a.heartbeatMs !== b.heartbeatMs) out.push('heartbeat');
  if (a.forceRotate !== b.forceRotate) out.push('forceRotate');
  if (JSON.stringify(Object.entries(a.labels).sort()) !== JSON.stringify(Object.entries(b.labels).sort())) out.push('labels');
  return out;
}
