// Service specs from Docker's clients, handled as moby and swarmkit handle them: decoded into moby's Go types
// (./service-spec-types.ts: unknown keys dropped, keys matched case-insensitively at every depth), converted as
// moby converts them (./service-spec-convert.ts: its errors and defaults), checked as swarmkit's controlapi checks
// them (same texts), and stored encoded as Docker returns them (omitempty as Go applies it).
import type { Guard, Store } from '../store/types.js';
import { parseConstraints } from '../orchestrator/constraints.js';
import type { ServiceSpec } from '../orchestrator/types.js';
import { ApiError, rpcError } from './http.js';
import { fileTargetProblem } from '../../shared/file-target.js';
import { attachedNetworkIds } from './service-networks.js';
import type { NetworkView } from './network-record.js';
import { decodeBody, GoJsonError } from './go-json.js';
import { ServiceSpecCodec, type GoServiceSpec } from './service-spec-types.js';
import { asDockerStores } from './service-spec-convert.js';

const DNS_NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

interface Ref {
  id: string;
  name: string;
  fileName: string | null; // null: no File target
  runtime: boolean; // a config's Runtime target
}

function refsOf(spec: GoServiceSpec, kind: 'secret' | 'config'): Ref[] {
  const cs = spec.TaskTemplate.ContainerSpec;
  if (kind === 'secret') {
    return (cs?.Secrets ?? []).map((r) => {
      if (r === null) throw new ApiError(400, 'invalid secret reference: null');
      return { id: r.SecretID, name: r.SecretName, fileName: r.File?.Name ?? null, runtime: false };
    });
  }
  return (cs?.Configs ?? []).map((r) => {
    if (r === null) throw new ApiError(400, 'invalid config reference: null');
    return { id: r.ConfigID, name: r.ConfigName, fileName: r.File?.Name ?? null, runtime: r.Runtime !== null };
  });
}

/** swarmkit validateSecretRefsSpec / validateConfigRefsSpec. */
function checkRefs(list: Ref[], kind: 'secret' | 'config'): void {
  const targets = new Map<string, string>();
  for (const r of list) {
    if (r.id === '' || r.name === '') throw rpcError('InvalidArgument', `malformed ${kind} reference`);
    if (r.fileName === null && !r.runtime) throw rpcError('InvalidArgument', `malformed ${kind} reference, no target provided`);
    if (r.fileName === null) continue;
    if (r.fileName === '') throw rpcError('InvalidArgument', `malformed file ${kind} reference, invalid target file name provided`);
    const problem = fileTargetProblem(kind, r.fileName);
    if (problem) throw rpcError('InvalidArgument', problem);
    const prev = targets.get(r.fileName);
    if (prev !== undefined) throw rpcError('InvalidArgument', `${kind} references '${prev}' and '${r.name}' have a conflicting target: '${r.fileName}'`);
    targets.set(r.fileName, r.name);
  }
}

export interface CheckedSpec {
  /** The spec as Docker returns it (Go's encoding of moby's type). */
  spec: ServiceSpec;
  /** The same, typed. */
  typed: GoServiceSpec;
  secrets: Ref[];
  configs: Ref[];
}

/** The service's mode kind, for swarmkit's `service mode change is not allowed`. */
export function modeKind(spec: Record<string, unknown>): 'replicated' | 'global' | 'replicated-job' | 'global-job' {
  const m = (spec.Mode ?? {}) as Record<string, unknown>;
  if (m.Global != null) return 'global';
  if (m.ReplicatedJob != null) return 'replicated-job';
  if (m.GlobalJob != null) return 'global-job';
  return 'replicated';
}

/** Decodes, converts and validates a ServiceSpec body. */
export function checkServiceSpec(body: unknown): CheckedSpec {
  let decoded: GoServiceSpec;
  try {
    decoded = decodeBody(ServiceSpecCodec, body);
  } catch (err) {
    if (err instanceof GoJsonError) throw new ApiError(400, `invalid JSON: ${err.message}`);
    throw err;
  }
  const typed = asDockerStores(decoded);
  const name = typed.Name;
  const tt = typed.TaskTemplate;
  const cs = tt.ContainerSpec!;
  const secrets = refsOf(typed, 'secret');
  const configs = refsOf(typed, 'config');

  // swarmkit validateServiceSpec, in its order.
  if (name === '') throw rpcError('InvalidArgument', 'meta: name must be provided');
  if (!DNS_NAME.test(name) || name.length > 63) throw rpcError('InvalidArgument', 'name must be valid as a DNS name component');
  const delay = tt.RestartPolicy?.Delay ?? null;
  if (delay !== null && delay < 0) throw rpcError('InvalidArgument', 'TaskSpec: restart-delay cannot be negative');
  try {
    parseConstraints(tt.Placement?.Constraints ?? []);
  } catch (err) {
    throw rpcError('InvalidArgument', (err as Error).message);
  }
  if (cs.User !== '' && !/^\d+(:\d+)?$/.test(cs.User)) {
    throw rpcError('InvalidArgument', `ContainerSpec: invalid User "${cs.User}": runsecrets runs tasks as a numeric uid[:gid]`);
  }
  if (cs.StopGracePeriod !== null && cs.StopGracePeriod < 0) throw rpcError('InvalidArgument', 'ContainerSpec: StopGracePeriod must not be negative');
  checkRefs(secrets, 'secret');
  checkRefs(configs, 'config');
  const kind = modeKind(typed);
  if (kind === 'replicated-job' || kind === 'global-job') {
    if (typed.UpdateConfig !== null) throw rpcError('InvalidArgument', 'Jobs may not have an update config');
  } else if (typed.UpdateConfig !== null) {
    const u = typed.UpdateConfig;
    if (u.Delay < 0) throw rpcError('InvalidArgument', 'TaskSpec: update-delay cannot be negative');
    if (u.Monitor < 0) throw rpcError('InvalidArgument', 'TaskSpec: update-monitor cannot be negative');
    if (u.MaxFailureRatio < 0 || u.MaxFailureRatio > 1) throw rpcError('InvalidArgument', 'TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1');
  }
  const spec = ServiceSpecCodec.encode(typed) as ServiceSpec;
  return { spec, typed, secrets, configs };
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
