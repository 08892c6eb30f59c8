// Compose values into the Engine API's bodies, as docker's cli/compose/convert does (reference §5.2, §5.4): names
// scoped `<stack>_<key>` unless `name:` is set, the stack label on everything the stack creates, the service and
// container labels, secret and config references with docker's defaults, network attachments with the service's
// unscoped name as alias.
import { ComposeError, type ComposeFile, type ComposeNetwork, type ComposeObject, type ComposeRef, type ComposeService } from './compose-file.js';

export const NAMESPACE_LABEL = 'com.docker.stack.namespace';
export const IMAGE_LABEL = 'com.docker.stack.image';

type Json = Record<string, unknown>;

export const scope = (stack: string, key: string): string => `${stack}_${key}`;

export function withStackLabel(stack: string, labels: Record<string, string>): Record<string, string> {
  return { ...labels, [NAMESPACE_LABEL]: stack };
}

/** The name an object has on the manager: `name:`, else the key for an external one, else `<stack>_<key>`. */
export function objectName(stack: string, o: ComposeObject | ComposeNetwork): string {
  if (o.name !== null && o.name !== '') return o.name;
  return o.external ? o.key : scope(stack, o.key);
}

/** The networks the services use (a service without `networks:` uses `default`), keys in order of first use. */
export function neededNetworks(file: ComposeFile): ComposeNetwork[] {
  const keys: string[] = [];
  for (const s of file.services) {
    for (const n of s.networks ?? [{ key: 'default', aliases: [] }]) {
      if (n.key !== 'default' && !file.networks.some((x) => x.key === n.key)) {
        throw new ComposeError(`service "${s.key}" refers to undefined network ${n.key}: invalid compose project`);
      }
      if (!keys.includes(n.key)) keys.push(n.key);
    }
  }
  return keys.map(
    (key) =>
      file.networks.find((n) => n.key === key) ?? { key, name: null, external: false, driver: '', driverOpts: {}, labels: {}, internal: false, attachable: false },
  );
}

/** POST /networks/create body (convert.Networks): overlay unless a driver is given. */
export function networkCreateBody(stack: string, n: ComposeNetwork): Json {
  return {
    Name: objectName(stack, n),
    Driver: n.driver || 'overlay',
    Options: n.driverOpts,
    Labels: withStackLabel(stack, n.labels),
    Internal: n.internal,
    Attachable: n.attachable,
  };
}

/** A secret or config spec (without Data, which deploy reads from the file). */
export function objectSpec(stack: string, o: ComposeObject): { Name: string; Labels: Record<string, string>; Templating?: { Name: string } } {
  const spec: { Name: string; Labels: Record<string, string>; Templating?: { Name: string } } = { Name: objectName(stack, o), Labels: withStackLabel(stack, o.labels) };
  if (o.templateDriver) spec.Templating = { Name: o.templateDriver };
  return spec;
}

export interface FileReference {
  name: string;
  File: { Name: string; UID: string; GID: string; Mode: number };
}

/** convertFileObject: target defaults to the key, uid/gid to "0", mode to 0444; sorted by name. */
export function fileReferences(stack: string, refs: ComposeRef[], objects: ComposeObject[], kind: 'secret' | 'config', service: string): FileReference[] {
  return refs
    .map((r) => {
      const o = objects.find((x) => x.key === r.source);
      if (!o) throw new ComposeError(`service "${service}" refers to undefined ${kind} ${r.source}: invalid compose project`);
      return { name: objectName(stack, o), File: { Name: r.target ?? r.source, UID: r.uid ?? '0', GID: r.gid ?? '0', Mode: r.mode ?? 0o444 } };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The ServiceSpec, with references already resolved to IDs by the caller. */
export function serviceSpec(
  stack: string,
  s: ComposeService,
  file: ComposeFile,
  secrets: { SecretID: string; SecretName: string; File: FileReference['File'] }[],
  configs: { ConfigID: string; ConfigName: string; File: FileReference['File'] }[],
): Json {
  const cs: Json = { Image: s.image, Labels: withStackLabel(stack, s.labels) };
  if (s.entrypoint) cs.Command = s.entrypoint;
  if (s.command) cs.Args = s.command;
  if (s.hostname) cs.Hostname = s.hostname;
  if (s.environment.length > 0) cs.Env = s.environment;
  if (s.workingDir) cs.Dir = s.workingDir;
  if (s.user) cs.User = s.user;
  if (secrets.length > 0) cs.Secrets = secrets;
  if (configs.length > 0) cs.Configs = configs;
  const networks = (s.networks ?? [{ key: 'default', aliases: [] }])
    .map((n) => {
      const def = neededNetworks(file).find((x) => x.key === n.key)!;
      return { Target: objectName(stack, def), Aliases: [...n.aliases, s.key] };
    })
    .sort((a, b) => (a.Target < b.Target ? -1 : a.Target > b.Target ? 1 : 0));
  return {
    Name: scope(stack, s.key),
    Labels: { ...withStackLabel(stack, s.deployLabels), [IMAGE_LABEL]: s.image },
    TaskTemplate: { ContainerSpec: cs, Placement: s.constraints.length > 0 ? { Constraints: s.constraints } : {}, Networks: networks },
    Mode: s.mode === 'global' ? { Global: {} } : { Replicated: s.replicas === null ? {} : { Replicas: s.replicas } },
    EndpointSpec: {},
  };
}
