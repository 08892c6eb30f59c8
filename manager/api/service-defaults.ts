// `GET /services/{id}?insertDefaults=true`: swarmkit's defaults.InterpolateService, which fills only the pieces a
// spec left nil (reference §8.2), seen through moby's conversion back to the API.
import { decodeBody } from './go-json.js';
import { ServiceSpecCodec, type GoUpdateConfig } from './service-spec-types.js';
import type { ServiceSpec } from '../orchestrator/types.js';

const SECOND = 1_000_000_000;

function updateDefaults(u: GoUpdateConfig | null): GoUpdateConfig {
  if (u === null) return { Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 5 * SECOND, MaxFailureRatio: 0, Order: 'stop-first' };
  return u.Monitor === 0 ? { ...u, Monitor: 5 * SECOND } : u;
}

export function withDefaults(stored: ServiceSpec): ServiceSpec {
  const s = decodeBody(ServiceSpecCodec, stored);
  const tt = s.TaskTemplate;
  const cs = tt.ContainerSpec;
  if (cs !== null) {
    if (cs.StopGracePeriod === null) cs.StopGracePeriod = 10 * SECOND;
    if (cs.DNSConfig === null) cs.DNSConfig = { Nameservers: null, Search: null, Options: null };
  }
  if (tt.Resources === null) tt.Resources = { Limits: null, Reservations: null };
  if (tt.RestartPolicy === null) tt.RestartPolicy = { Condition: 'any', Delay: 5 * SECOND, MaxAttempts: 0, Window: null };
  else if (tt.RestartPolicy.Delay === null) tt.RestartPolicy.Delay = 5 * SECOND;
  if (tt.Placement === null) tt.Placement = { Constraints: null, Preferences: null, MaxReplicas: 0, Platforms: null };
  s.UpdateConfig = updateDefaults(s.UpdateConfig);
  s.RollbackConfig = updateDefaults(s.RollbackConfig);
  return ServiceSpecCodec.encode(s) as ServiceSpec;
}
