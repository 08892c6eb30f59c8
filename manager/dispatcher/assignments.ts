// What one node should have: its live tasks (as TaskAssignment) and the secrets and configs they reference. A pure
// function of the store's tasks, so the dispatcher can compute it after every commit and send the difference.
import type { StoredObject } from '../store/types.js';
import { stateRank, isFinished, type TaskRecord } from '../orchestrator/types.js';
import type { FileRef, TaskAssignment, TaskRegistryAuth } from '../../shared/protocol.js';
import { decodeRegistryAuth } from '../../shared/registry-auth.js';
import { secretUpdateMode } from '../orchestrator/update.js';

/** A task the node should run: its own, desired running (or ready, waiting for a restart delay; or complete, a job's
 * task that runs to completion), not yet finished. */
export function isNodeTask(t: StoredObject<TaskRecord>, nodeId: string): boolean {
  const s = t.spec;
  return s.NodeID === nodeId && (stateRank(s.DesiredState) <= stateRank('running') || s.DesiredState === 'complete') && !isFinished(s.Status.State);
}

function strArray(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}

function num(v: unknown, dflt: number): number {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : dflt;
}

function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function fileRefs(cs: Record<string, unknown>, kind: 'secret' | 'config'): FileRef[] {
  const list = cs[kind === 'secret' ? 'Secrets' : 'Configs'];
  if (!Array.isArray(list)) return [];
  const out: FileRef[] = [];
  for (const r of list as Record<string, unknown>[]) {
    const id = r[kind === 'secret' ? 'SecretID' : 'ConfigID'];
    const name = r[kind === 'secret' ? 'SecretName' : 'ConfigName'];
    const file = r.File as Record<string, unknown> | undefined;
    if (typeof id !== 'string') continue;
    if (!file && kind === 'config') continue; // a Runtime config is not a file
    const target = typeof file?.Name === 'string' && file.Name !== '' ? file.Name : String(name ?? id);
    out.push({ kind, id, target, uid: num(file?.UID, 0), gid: num(file?.GID, 0), mode: num(file?.Mode, 0o444) & 0o7777 });
  }
  return out;
}

export function toAssignment(t: StoredObject<TaskRecord>): TaskAssignment {
  const cs = ((t.spec.Spec as Record<string, unknown>).ContainerSpec ?? {}) as Record<string, unknown>;
  const a: TaskAssignment = {
    id: t.id,
    version: t.version,
    serviceId: t.spec.ServiceID,
    serviceName: t.spec.ServiceName,
    slot: t.spec.Slot,
    // A job's task (desired `complete`) runs as any other: the agent starts only tasks marked running.
    desiredState: t.spec.DesiredState === 'complete' ? 'running' : t.spec.DesiredState,
    files: [...fileRefs(cs, 'secret'), ...fileRefs(cs, 'config')],
  };
  const command = strArray(cs.Command);
  const args = strArray(cs.Args);
  const env = strArray(cs.Env);
  if (command) a.command = command;
  if (args) a.args = args;
  if (env) a.env = env;
  if (typeof cs.Dir === 'string' && cs.Dir !== '') a.dir = cs.Dir;
  if (typeof cs.User === 'string' && cs.User !== '') a.user = cs.User;
  if (typeof cs.StopGracePeriod === 'number') a.stopGracePeriodMs = Math.floor(cs.StopGracePeriod / 1e6);
  if (typeof cs.Image === 'string' && cs.Image !== '') a.image = cs.Image;
  if (typeof cs.Hostname === 'string' && cs.Hostname !== '') a.hostname = cs.Hostname;
  // Docker's order: ContainerSpec.Labels, then the task's own labels over them (the agent adds Swarm's last).
  const labels = { ...strMap(cs.Labels), ...strMap(t.spec.Labels) };
  if (Object.keys(labels).length > 0) a.labels = labels;
  // `.Service.Labels` of templated secrets and configs: the service's labels when the task was made.
  const serviceLabels = strMap(t.spec.ServiceAnnotations?.Labels);
  if (Object.keys(serviceLabels).length > 0) a.serviceLabels = serviceLabels;
  // The service's labels as the orchestrator last gave them to the task (refreshed with every in-place change).
  const mode = secretUpdateMode(t.spec.ServiceAnnotations?.Labels);
  if (mode.kind === 'signal') a.refreshSignal = mode.signal;
  return a;
}

/** Object keys ("secret/ID") the given assignments reference. */
export function referencedObjects(tasks: readonly TaskAssignment[]): Set<string> {
  const out = new Set<string>();
  for (const t of tasks) for (const f of t.files) out.add(`${f.kind}/${f.id}`);
  return out;
}

/**
 * The assignment with its service's registry credentials (`--with-registry-auth`), decoded from the stored
 * X-Registry-Auth value; an undecodable value gives none (a node then pulls without, as Docker's workers do).
 */
export function withRegistryAuth(a: TaskAssignment, pullAuth: string | undefined): TaskAssignment {
  const auth = decodeRegistryAuth(pullAuth);
  if (!auth) return a;
  const r: TaskRegistryAuth = {};
  if (auth.username !== undefined) r.username = auth.username;
  if (auth.password !== undefined) r.password = auth.password;
  if (auth.identitytoken !== undefined) r.identitytoken = auth.identitytoken;
  return Object.keys(r).length > 0 ? { ...a, registryAuth: r } : a;
}
