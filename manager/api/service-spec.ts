// Service specs from Docker's clients: checked like moby's convert and swarmkit's controlapi (same texts), then kept
// as sent, with the known fields' names in their canonical case, so that fields we do not use round-trip.
import type { Guard, Store } from '../store/types.js';
import { parseConstraints } from '../orchestrator/constraints.js';
import type { ServiceSpec } from '../orchestrator/types.js';
import { ApiError, rpcError } from './http.js';
import { fileTargetProblem } from '../../shared/file-target.js';
import { decodeObject, decodeStringMap, jsonTypeName } from './decode.js';
import { attachedNetworkIds } from './service-networks.js';
import type { NetworkView } from './network-record.js';

const DNS_NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

function typeError(v: unknown, path: string, goType: string): ApiError {
  return new ApiError(400, `invalid JSON: json: cannot unmarshal ${jsonTypeName(v)} into Go struct field ${path} of type ${goType}`);
}

/** Renames a case-insensitive match of each known key to its canonical spelling (Go's decoder accepts any case). */
function canon(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  for (const k of keys) {
    if (Object.prototype.hasOwnProperty.call(o, k)) continue;
    const other = Object.keys(o).find((x) => x.toLowerCase() === k.toLowerCase());
    if (other !== undefined) {
      o[k] = o[other];
      delete o[other];
    }
  }
  return o;
}

function sub(o: Record<string, unknown>, key: string, path: string, goType: string): Record<string, unknown> | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw typeError(v, path, goType);
  return canon(v as Record<string, unknown>, []);
}

function str(o: Record<string, unknown>, key: string, path: string): string {
  const v = o[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw typeError(v, path, 'string');
  return v;
}

function strList(o: Record<string, unknown>, key: string, path: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw typeError(v, path, '[]string');
  for (const x of v) if (typeof x !== 'string') throw typeError(x, path, 'string');
  return v as string[];
}

function uint(o: Record<string, unknown>, key: string, path: string, goType: string): number | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(v, path, goType);
  if (v < 0 && goType.startsWith('uint')) throw typeError(v, path, goType);
  return v;
}

interface Ref {
  id: string;
  name: string;
  fileName: string | null; // null: no File target
}

function refs(cs: Record<string, unknown>, key: 'Secrets' | 'Configs', kind: 'secret' | 'config'): Ref[] {
  const v = cs[key];
  if (v === undefined || v === null) return [];
  const path = `ServiceSpec.TaskTemplate.ContainerSpec.${key}`;
  if (!Array.isArray(v)) throw typeError(v, path, `[]*swarm.${kind === 'secret' ? 'SecretReference' : 'ConfigReference'}`);
  const out: Ref[] = [];
  const idKey = kind === 'secret' ? 'SecretID' : 'ConfigID';
  const nameKey = kind === 'secret' ? 'SecretName' : 'ConfigName';
  for (const item of v) {
    const r = decodeObject(item, kind === 'secret' ? 'swarm.SecretReference' : 'swarm.ConfigReference');
    if (r === null) throw new ApiError(400, `invalid ${kind} reference: null`);
    canon(r, ['File', 'Runtime', idKey, nameKey]);
    const file = sub(r, 'File', `${path}.File`, kind === 'secret' ? 'swarm.SecretReferenceFileTarget' : 'swarm.ConfigReferenceFileTarget');
    if (file) {
      canon(file, ['Name', 'UID', 'GID', 'Mode']);
      str(file, 'UID', `${path}.File.UID`);
      str(file, 'GID', `${path}.File.GID`);
      uint(file, 'Mode', `${path}.File.Mode`, 'fs.FileMode');
    }
    out.push({ id: str(r, idKey, `${path}.${idKey}`), name: str(r, nameKey, `${path}.${nameKey}`), fileName: file ? str(file, 'Name', `${path}.File.Name`) : null });
  }
  return out;
}

/** swarmkit validateSecretRefsSpec / validateConfigRefsSpec. */
function checkRefs(list: Ref[], kind: 'secret' | 'config', hasRuntime: (i: number) => boolean): void {
  const targets = new Map<string, string>();
  list.forEach((r, i) => {
    if (r.id === '' || r.name === '') throw rpcError('InvalidArgument', `malformed ${kind} reference`);
    if (r.fileName === null && !(kind === 'config' && hasRuntime(i))) throw rpcError('InvalidArgument', `malformed ${kind} reference, no target provided`);
    if (r.fileName === null) return;
    if (r.fileName === '') throw rpcError('InvalidArgument', `malformed file ${kind} reference, invalid target file name provided`);
    const problem = fileTargetProblem(kind, r.fileName);
    if (problem) throw rpcError('InvalidArgument', problem);
    const prev = targets.get(r.fileName);
    if (prev !== undefined) throw rpcError('InvalidArgument', `${kind} references '${prev}' and '${r.name}' have a conflicting target: '${r.fileName}'`);
    targets.set(r.fileName, r.name);
  });
}

export interface CheckedSpec {
  spec: ServiceSpec;
  secrets: Ref[];
  configs: Ref[];
}

/** Validates a ServiceSpec body; returns it normalized (canonical key case, Mode filled in as Docker does). */
export function checkServiceSpec(body: unknown): CheckedSpec {
  const o = decodeObject(body, 'swarm.ServiceSpec');
  if (o === null) throw new ApiError(400, 'invalid JSON: the service spec must be a JSON object');
  canon(o, ['Name', 'Labels', 'TaskTemplate', 'Mode', 'UpdateConfig', 'RollbackConfig', 'Networks', 'EndpointSpec']);
  const name = str(o, 'Name', 'ServiceSpec.Name');
  const labels = decodeStringMap(o.Labels, 'ServiceSpec.Labels');
  if (labels !== null) o.Labels = labels;

  const tt = sub(o, 'TaskTemplate', 'ServiceSpec.TaskTemplate', 'swarm.TaskSpec') ?? {};
  o.TaskTemplate = tt;
  canon(tt, ['ContainerSpec', 'PluginSpec', 'NetworkAttachmentSpec', 'Resources', 'RestartPolicy', 'Placement', 'Networks', 'LogDriver', 'ForceUpdate', 'Runtime']);
  const runtime = str(tt, 'Runtime', 'ServiceSpec.TaskTemplate.Runtime');
  if (runtime !== '' && runtime !== 'container') throw new ApiError(400, `invalid runtime "${runtime}": runsecrets runs container-style tasks only`);
  const cs = sub(tt, 'ContainerSpec', 'ServiceSpec.TaskTemplate.ContainerSpec', 'swarm.ContainerSpec');
  if (cs === null) throw new ApiError(400, 'mismatched Runtime and *Spec fields');
  canon(cs, ['Image', 'Labels', 'Command', 'Args', 'Hostname', 'Env', 'Dir', 'User', 'StopGracePeriod', 'Secrets', 'Configs']);
  const p = 'ServiceSpec.TaskTemplate.ContainerSpec';
  str(cs, 'Image', `${p}.Image`);
  strList(cs, 'Command', `${p}.Command`);
  strList(cs, 'Args', `${p}.Args`);
  strList(cs, 'Env', `${p}.Env`);
  str(cs, 'Dir', `${p}.Dir`);
  const user = str(cs, 'User', `${p}.User`);
  const grace = uint(cs, 'StopGracePeriod', `${p}.StopGracePeriod`, 'time.Duration');
  const secrets = refs(cs, 'Secrets', 'secret');
  const configs = refs(cs, 'Configs', 'config');

  let delay: number | null = null;
  const rp = sub(tt, 'RestartPolicy', 'ServiceSpec.TaskTemplate.RestartPolicy', 'swarm.RestartPolicy');
  if (rp) {
    canon(rp, ['Condition', 'Delay', 'MaxAttempts', 'Window']);
    const c = str(rp, 'Condition', 'ServiceSpec.TaskTemplate.RestartPolicy.Condition');
    if (!['', 'none', 'on-failure', 'any'].includes(c)) throw new ApiError(400, `invalid RestartCondition: "${c}"`);
    delay = uint(rp, 'Delay', 'ServiceSpec.TaskTemplate.RestartPolicy.Delay', 'time.Duration');
    uint(rp, 'MaxAttempts', 'ServiceSpec.TaskTemplate.RestartPolicy.MaxAttempts', 'uint64');
  }
  const pl = sub(tt, 'Placement', 'ServiceSpec.TaskTemplate.Placement', 'swarm.Placement');
  if (pl) canon(pl, ['Constraints', 'Preferences', 'MaxReplicas', 'Platforms']);
  const constraints = pl ? strList(pl, 'Constraints', 'ServiceSpec.TaskTemplate.Placement.Constraints') : [];
  uint(tt, 'ForceUpdate', 'ServiceSpec.TaskTemplate.ForceUpdate', 'uint64');

  const mode = sub(o, 'Mode', 'ServiceSpec.Mode', 'swarm.ServiceMode') ?? {};
  canon(mode, ['Replicated', 'Global', 'ReplicatedJob', 'GlobalJob']);
  const rep = sub(mode, 'Replicated', 'ServiceSpec.Mode.Replicated', 'swarm.ReplicatedService');
  const glob = sub(mode, 'Global', 'ServiceSpec.Mode.Global', 'swarm.GlobalService');
  if (rep && glob) throw new ApiError(400, 'cannot specify both replicated mode and global mode');
  if (mode.ReplicatedJob != null || mode.GlobalJob != null) throw new ApiError(400, 'runsecrets does not run jobs: use Replicated or Global mode');
  if (!glob) {
    const r = rep ?? {};
    canon(r, ['Replicas']);
    const n = uint(r, 'Replicas', 'ServiceSpec.Mode.Replicated.Replicas', 'uint64');
    mode.Replicated = { ...r, Replicas: n ?? 1 }; // moby: no mode, or no count, means one replica
  }
  o.Mode = mode;

  // swarmkit validateAnnotations, after the conversion errors above (moby converts first).
  if (name === '') throw rpcError('InvalidArgument', 'meta: name must be provided');
  if (!DNS_NAME.test(name) || name.length > 63) throw rpcError('InvalidArgument', 'name must be valid as a DNS name component');
  if (delay !== null && delay < 0) throw rpcError('InvalidArgument', 'TaskSpec: restart-delay cannot be negative');
  try {
    parseConstraints(constraints);
  } catch (err) {
    throw rpcError('InvalidArgument', (err as Error).message);
  }
  if (user !== '' && !/^\d+(:\d+)?$/.test(user)) {
    throw rpcError('InvalidArgument', `ContainerSpec: invalid User "${user}": runsecrets runs tasks as a numeric uid[:gid]`);
  }
  if (grace !== null && grace < 0) throw rpcError('InvalidArgument', 'ContainerSpec: StopGracePeriod must not be negative');
  checkRefs(secrets, 'secret', () => false);
  const cfgRaw = Array.isArray(cs.Configs) ? (cs.Configs as Record<string, unknown>[]) : [];
  checkRefs(configs, 'config', (i) => cfgRaw[i]?.Runtime != null);
  return { spec: o as ServiceSpec, secrets, configs };
}

/** swarmkit checkSecretExistence / checkConfigExistence: the ID must exist and its stored name must match. */
export async function checkRefsExist(store: Store, c: CheckedSpec): Promise<void> {
  for (const [kind, list] of [
    ['secret', c.secrets],
    ['config', c.configs],
  ] as const) {
    const failed: string[] = [];
    for (const r of list) {
      const o = await store.get(kind, r.id);
      if (!o || o.name !== r.name) failed.push(r.name);
    }
    if (failed.length > 0) throw rpcError('InvalidArgument', `${kind}${failed.length === 1 ? '' : 's'} not found: ${failed.join(', ')}`);
  }
}

/**
 * The guards a service write commits with, so that what checkRefsExist saw still holds when it lands: each secret
 * and config it references exists under the name it gives, and each stored network it attaches to exists
 * (predefined networks are not stored and cannot go).
 */
export function refGuards(c: CheckedSpec, networks: readonly NetworkView[]): Guard[] {
  const guards: Guard[] = [];
  for (const r of c.secrets) guards.push({ guard: 'present', kind: 'secret', id: r.id, name: r.name });
  for (const r of c.configs) guards.push({ guard: 'present', kind: 'config', id: r.id, name: r.name });
  const stored = new Set(networks.filter((n) => !n.predefined).map((n) => n.id));
  for (const id of new Set(attachedNetworkIds(c.spec))) if (stored.has(id)) guards.push({ guard: 'present', kind: 'network', id });
  return guards;
}
