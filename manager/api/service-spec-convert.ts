// What moby does to a decoded ServiceSpec on its way into swarmkit and back out (daemon/cluster/convert:
// ServiceSpecToGRPC, then serviceSpecFromGRPC), as one pure function: the errors it raises, the defaults it fills
// (restart condition `any`, update FailureAction `pause` and Order `stop-first`, job counts, resolution mode `vip`,
// Isolation `default`, Runtime `container`) and what it drops (empty lists and maps, Consistency of mounts). So a
// stored spec is exactly what `GET /services/{id}` returns from Docker for the same request.
import { ApiError } from './http.js';
import type { GoContainerSpec, GoServiceMode, GoServiceSpec, GoTaskSpec, GoUpdateConfig } from './service-spec-types.js';

const bad = (msg: string): ApiError => new ApiError(400, msg);

/** A proto enum round trip: the name upper-cased must be one of `names`, and comes back lower-cased. */
function enumValue(v: string, names: readonly string[], fallback: string | null, err: () => ApiError): string {
  const up = v.toUpperCase();
  if (names.includes(up)) return up.toLowerCase();
  if (fallback !== null) return fallback;
  throw err();
}

function nonEmpty<T>(v: T[] | null): T[] | null {
  return v !== null && v.length > 0 ? v : null;
}
function nonEmptyMap<T>(v: Record<string, T> | null): Record<string, T> | null {
  return v !== null && Object.keys(v).length > 0 ? v : null;
}

function isolation(i: string): string {
  const l = i.toLowerCase();
  return l === 'hyperv' || l === 'process' ? l : 'default';
}

function container(c: GoContainerSpec): GoContainerSpec {
  const configs = (c.Configs ?? []).map((r) => {
    if (r === null) return r;
    if (r.Runtime === null && r.File === null) throw bad('either File or Runtime should be set');
    if (r.Runtime !== null && r.File !== null) throw bad('cannot specify both File and Runtime');
    return r;
  });
  const mounts = (c.Mounts ?? []).map((m) => ({
    ...m,
    Type: enumValue(m.Type, ['BIND', 'VOLUME', 'TMPFS', 'NPIPE', 'CLUSTER'], null, () => bad(`invalid MountType: "${m.Type}"`)),
    Consistency: '', // not carried by swarmkit
    ClusterOptions: null,
    BindOptions:
      m.BindOptions === null
        ? null
        : {
            ...m.BindOptions,
            Propagation: enumValue(m.BindOptions.Propagation, ['RPRIVATE', 'PRIVATE', 'RSHARED', 'SHARED', 'RSLAVE', 'SLAVE'], null, () =>
              bad(`invalid MountPropagation: "${m.BindOptions!.Propagation}"`),
            ),
          },
  }));
  const p = c.Privileges;
  return {
    ...c,
    Labels: nonEmptyMap(c.Labels),
    Secrets: nonEmpty(c.Secrets),
    Configs: nonEmpty(configs),
    Mounts: nonEmpty(mounts),
    Isolation: isolation(c.Isolation),
    Privileges:
      p === null
        ? null
        : {
            ...p,
            Seccomp: p.Seccomp === null ? null : { ...p.Seccomp, Mode: ['default', 'unconfined', 'custom'].includes(p.Seccomp.Mode) ? p.Seccomp.Mode : 'default' },
            AppArmor: p.AppArmor === null ? null : { Mode: p.AppArmor.Mode === 'disabled' ? 'disabled' : 'default' },
          },
  };
}

function task(t: GoTaskSpec): GoTaskSpec {
  const rt = t.Runtime;
  if (rt !== '' && rt !== 'container') {
    if (rt === 'plugin' || rt === 'attachment') throw bad(`invalid runtime "${rt}": runsecrets runs container-style tasks only`);
    throw bad('unsupported runtime');
  }
  if (t.ContainerSpec === null) throw bad('mismatched Runtime and *Spec fields');
  let restart = t.RestartPolicy;
  if (restart !== null) {
    const c = restart.Condition;
    if (!['', 'none', 'on-failure', 'any'].includes(c)) throw bad(`invalid RestartCondition: "${c}"`);
    restart = { ...restart, Condition: c === '' ? 'any' : c, MaxAttempts: restart.MaxAttempts ?? 0 };
  }
  // Limits.Pids travels as the container's PidsLimit and comes back as the only limit if no Resources were sent.
  const pids = t.Resources?.Limits?.Pids ?? 0;
  let resources = t.Resources;
  if (resources !== null) {
    resources = {
      Limits: resources.Limits === null ? null : { ...resources.Limits },
      Reservations: resources.Reservations === null ? null : { ...resources.Reservations, GenericResources: nonEmpty(resources.Reservations.GenericResources) },
    };
  }
  if (resources === null && pids !== 0) resources = { Limits: { NanoCPUs: 0, MemoryBytes: 0, Pids: pids }, Reservations: null };
  const pl = t.Placement;
  return {
    ContainerSpec: container(t.ContainerSpec),
    PluginSpec: null,
    NetworkAttachmentSpec: null,
    Resources: resources,
    RestartPolicy: restart,
    Placement:
      pl === null
        ? null
        : { Constraints: nonEmpty(pl.Constraints), Preferences: nonEmpty((pl.Preferences ?? []).filter((x) => x.Spread !== null)), MaxReplicas: pl.MaxReplicas, Platforms: nonEmpty(pl.Platforms) },
    Networks: nonEmpty(t.Networks),
    LogDriver: t.LogDriver === null ? null : { Name: t.LogDriver.Name, Options: nonEmptyMap(t.LogDriver.Options) },
    ForceUpdate: t.ForceUpdate,
    Runtime: 'container',
  };
}

function updateConfig(u: GoUpdateConfig | null): GoUpdateConfig | null {
  if (u === null) return null;
  const action = u.FailureAction;
  if (!['', 'pause', 'continue', 'rollback'].includes(action)) throw bad(`unrecognized update failure action ${action}`);
  if (!['', 'stop-first', 'start-first'].includes(u.Order)) throw bad(`unrecognized update order ${u.Order}`);
  return { ...u, FailureAction: action === '' ? 'pause' : action, Order: u.Order === '' ? 'stop-first' : u.Order };
}

function mode(m: GoServiceMode): GoServiceMode {
  const n = [m.Global, m.Replicated, m.ReplicatedJob, m.GlobalJob].filter((x) => x !== null).length;
  if (n > 1) throw bad('must specify only one service mode');
  const none: GoServiceMode = { Replicated: null, Global: null, ReplicatedJob: null, GlobalJob: null };
  if (m.Global !== null) return { ...none, Global: {} };
  if (m.GlobalJob !== null) return { ...none, GlobalJob: {} };
  if (m.ReplicatedJob !== null) {
    const max = m.ReplicatedJob.MaxConcurrent ?? 1;
    return { ...none, ReplicatedJob: { MaxConcurrent: max, TotalCompletions: m.ReplicatedJob.TotalCompletions ?? max } };
  }
  return { ...none, Replicated: { Replicas: m.Replicated?.Replicas ?? 1 } };
}

/** The spec as Docker stores and returns it; throws moby's conversion errors (400). */
export function asDockerStores(s: GoServiceSpec): GoServiceSpec {
  const tt = task(s.TaskTemplate);
  const uc = updateConfig(s.UpdateConfig);
  const rc = updateConfig(s.RollbackConfig);
  let ep = s.EndpointSpec;
  if (ep !== null) {
    if (ep.Mode !== '' && ep.Mode !== 'vip' && ep.Mode !== 'dnsrr') throw bad(`invalid resolution mode: "${ep.Mode}"`);
    ep = {
      Mode: ep.Mode === '' ? 'vip' : ep.Mode,
      Ports: nonEmpty(
        (ep.Ports ?? []).map((p) => ({
          ...p,
          Protocol: enumValue(p.Protocol, ['TCP', 'UDP', 'SCTP'], 'tcp', () => bad('')),
          PublishMode: enumValue(p.PublishMode, ['INGRESS', 'HOST'], 'ingress', () => bad('')),
        })),
      ),
    };
  }
  return {
    Name: s.Name,
    Labels: s.Labels ?? {}, // annotationsFromGRPC: never null
    TaskTemplate: tt,
    Mode: mode(s.Mode),
    UpdateConfig: uc,
    RollbackConfig: rc,
    Networks: nonEmpty(s.Networks),
    EndpointSpec: ep,
  };
}
