// The ServiceSpec JSON docker's client sends: built from flags for `service create` (options.ToService), or the
// current spec changed by flags for `service update` (update.go updateService), read-modify-write so that the
// fields we do not know are sent back as they came.
import { CliError } from '../client/errors.js';
import { labelsToMap } from '../objects/validate.js';
import { imageWithLatest } from '../swarm/image-ref.js';
import { child, get, isObj, strs, type Json } from '../swarm/json.js';
import type { ServiceOpts } from './options.js';

/** swarmkit's defaults, which docker's client fills in once any restart flag is given. */
const DEFAULT_RESTART = (): Json => ({ Condition: 'any', Delay: 5_000_000_000, MaxAttempts: 0 });

function restartPolicy(o: ServiceOpts, base: Json | null): Json | null {
  if (o.restartCondition === undefined && o.restartDelay === undefined && o.restartMaxAttempts === undefined) return base;
  const p = base ?? DEFAULT_RESTART();
  if (o.restartCondition !== undefined) p.Condition = o.restartCondition;
  if (o.restartDelay !== undefined) p.Delay = o.restartDelay;
  if (o.restartMaxAttempts !== undefined) p.MaxAttempts = o.restartMaxAttempts;
  return p;
}

function serviceMode(o: ServiceOpts): Json {
  const mode = o.mode ?? 'replicated';
  if (mode === 'replicated') return { Replicated: o.replicas === undefined ? {} : { Replicas: o.replicas } };
  if (mode === 'global') {
    if (o.replicas !== undefined) throw new CliError('replicas can only be used with replicated or replicated-job mode');
    return { Global: {} };
  }
  throw new CliError(`Unknown mode: ${mode}, only replicated and global supported`);
}

/** options.ToService for our flags; the key order is Go's field order, empty fields omitted as Go omits them. */
export function createSpec(o: ServiceOpts, image: string, args: string[], secrets: Json[], configs: Json[]): Json {
  const mode = serviceMode(o);
  const cs: Json = { Image: imageWithLatest(image) };
  if (args.length > 0) cs.Args = args;
  if (o.env.length > 0) cs.Env = o.env;
  if (o.workdir) cs.Dir = o.workdir;
  if (o.user) cs.User = o.user;
  cs.Init = false;
  if (o.stopGracePeriod !== undefined) cs.StopGracePeriod = o.stopGracePeriod;
  cs.DNSConfig = {};
  if (secrets.length > 0) cs.Secrets = secrets;
  if (configs.length > 0) cs.Configs = configs;
  const task: Json = { ContainerSpec: cs, Resources: { Limits: {}, Reservations: {} } };
  const restart = restartPolicy(o, null);
  if (restart) task.RestartPolicy = restart;
  task.Placement = o.constraints.length > 0 ? { Constraints: o.constraints } : {};
  task.ForceUpdate = 0;
  const spec: Json = {};
  if (o.name) spec.Name = o.name;
  spec.Labels = labelsToMap(o.labels);
  spec.TaskTemplate = task;
  spec.Mode = mode;
  spec.EndpointSpec = { Mode: 'vip' };
  return spec;
}

const envKey = (e: string): string => e.split('=', 1)[0]!;

/** Sets or deletes a key the way Go's omitempty would serialise it. */
function setOrOmit(obj: Json, key: string, value: unknown): void {
  const empty = value === undefined || value === '' || (Array.isArray(value) && value.length === 0);
  if (empty) delete obj[key];
  else obj[key] = value;
}

/** updateService + getUpdatedSecrets/Configs for our flags, applied to the spec in place. */
export function updateSpec(spec: Json, o: ServiceOpts, addSecrets: Json[], addConfigs: Json[]): void {
  // Labels: remove, then add (updateLabels).
  if (o.labelRm.length > 0 && isObj(spec.Labels)) for (const k of o.labelRm) delete spec.Labels[k];
  if (o.labels.length > 0) spec.Labels = { ...(isObj(spec.Labels) ? spec.Labels : {}), ...labelsToMap(o.labels) };
  const task = child(spec, 'TaskTemplate');
  const cs = child(task, 'ContainerSpec');
  if (o.image !== undefined) cs.Image = o.image;
  if (o.args !== undefined) setOrOmit(cs, 'Args', o.args);
  // Env: drop the removed names, then add or replace by name (docker's map makes the order random; ours is stable).
  const rm = new Set(o.envRm);
  const env = strs(cs.Env).filter((e) => !rm.has(envKey(e)));
  for (const e of o.env) {
    const at = env.findIndex((x) => envKey(x) === envKey(e));
    if (at >= 0) env[at] = e;
    else env.push(e);
  }
  setOrOmit(cs, 'Env', env);
  if (o.workdir !== undefined) setOrOmit(cs, 'Dir', o.workdir);
  if (o.user !== undefined) setOrOmit(cs, 'User', o.user);
  if (o.stopGracePeriod !== undefined) cs.StopGracePeriod = o.stopGracePeriod;
  const restart = restartPolicy(o, isObj(task.RestartPolicy) ? task.RestartPolicy : null);
  if (restart) task.RestartPolicy = restart;
  if (o.constraints.length > 0 || o.constraintRm.length > 0) {
    const placement = child(task, 'Placement');
    const drop = new Set(o.constraintRm);
    const list = [...strs(placement.Constraints), ...o.constraints].filter((c) => !drop.has(c));
    setOrOmit(placement, 'Constraints', list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  if (o.replicas !== undefined) {
    const replicated = get(spec, 'Mode', 'Replicated');
    if (!isObj(replicated)) throw new CliError('replicas can only be used with replicated mode');
    replicated.Replicas = o.replicas;
  }
  if (o.force) task.ForceUpdate = (typeof task.ForceUpdate === 'number' ? task.ForceUpdate : 0) + 1;
  const dropSecrets = new Set(o.secretRm);
  const secrets = (Array.isArray(cs.Secrets) ? cs.Secrets : []).filter((r) => !dropSecrets.has(String(get(r, 'SecretName') ?? '')));
  setOrOmit(cs, 'Secrets', [...secrets, ...addSecrets]);
  const dropConfigs = new Set(o.configRm);
  // Configs with a Runtime target belong to --credential-spec, which docker keeps.
  const configs = (Array.isArray(cs.Configs) ? cs.Configs : []).filter(
    (r) => get(r, 'Runtime') !== undefined || !dropConfigs.has(String(get(r, 'ConfigName') ?? '')),
  );
  setOrOmit(cs, 'Configs', [...configs, ...addConfigs]);
  // The client tags a bare image name before sending (client.imageWithTagString).
  if (typeof cs.Image === 'string') cs.Image = imageWithLatest(cs.Image);
}
