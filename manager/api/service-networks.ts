// Network attachments in service specs (TaskTemplate.Networks and the deprecated ServiceSpec.Networks): each
// Target is resolved to its network's ID before the spec is stored, as moby's populateNetworkID does, so that the
// spec (and every task made from it) shows IDs and a redeploy naming the same networks changes nothing. They are
// kept in the spec and shown by inspect; tasks still use the host's network (no overlay data plane).
import type { ServiceSpec } from '../orchestrator/types.js';
import { ApiError } from './http.js';
import { decodeObject, decodeStringMap, jsonTypeName } from './decode.js';
import { resolveAttachment } from './network-lookup.js';
import type { NetworkView } from './network-record.js';

type Where = 'TaskTemplate.Networks' | 'Networks';

function list(spec: ServiceSpec, where: Where): unknown[] | null {
  const holder = where === 'Networks' ? spec : decodeObject(spec.TaskTemplate ?? null, 'swarm.TaskSpec');
  const v = holder?.Networks;
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) {
    throw new ApiError(400, `invalid JSON: json: cannot unmarshal ${jsonTypeName(v)} into Go struct field ServiceSpec.${where} of type []swarm.NetworkAttachmentConfig`);
  }
  return v;
}

/** Go's decoder: keys of NetworkAttachmentConfig in any case become Target, Aliases, DriverOpts. */
function canonAttachment(item: unknown, where: Where): Record<string, unknown> {
  const o = decodeObject(item, 'swarm.NetworkAttachmentConfig');
  if (o === null) throw new ApiError(400, `invalid network attachment in ServiceSpec.${where}: null`);
  for (const k of ['Target', 'Aliases', 'DriverOpts']) {
    if (Object.prototype.hasOwnProperty.call(o, k)) continue;
    const other = Object.keys(o).find((x) => x.toLowerCase() === k.toLowerCase());
    if (other !== undefined) {
      o[k] = o[other];
      delete o[other];
    }
  }
  if (o.Target !== undefined && o.Target !== null && typeof o.Target !== 'string') {
    throw new ApiError(400, `invalid JSON: json: cannot unmarshal ${jsonTypeName(o.Target)} into Go struct field NetworkAttachmentConfig.${where}.Target of type string`);
  }
  const aliases = o.Aliases;
  if (aliases !== undefined && aliases !== null && (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string'))) {
    throw new ApiError(400, `invalid JSON: json: cannot unmarshal ${jsonTypeName(aliases)} into Go struct field NetworkAttachmentConfig.${where}.Aliases of type []string`);
  }
  const opts = decodeStringMap(o.DriverOpts, `NetworkAttachmentConfig.${where}.DriverOpts`);
  if (opts !== null) o.DriverOpts = opts;
  return o;
}

/** Rewrites every attachment's Target to its network's ID (in place); Docker's error if one cannot be used. */
export function resolveServiceNetworks(spec: ServiceSpec, all: NetworkView[]): void {
  for (const where of ['TaskTemplate.Networks', 'Networks'] as const) {
    const items = list(spec, where);
    if (items === null) continue;
    for (let i = 0; i < items.length; i++) {
      const a = canonAttachment(items[i], where);
      a.Target = resolveAttachment(all, typeof a.Target === 'string' ? a.Target : '').id;
      items[i] = a;
    }
  }
}

/** The network IDs a stored service spec is attached to (swarmkit's ByReferencedNetworkID looks at both lists). */
export function attachedNetworkIds(spec: ServiceSpec): string[] {
  const out: string[] = [];
  const tt = spec.TaskTemplate as { Networks?: unknown } | undefined;
  for (const v of [tt?.Networks, spec.Networks]) {
    if (!Array.isArray(v)) continue;
    for (const a of v) {
      const target = (a as { Target?: unknown } | null)?.Target;
      if (typeof target === 'string') out.push(target);
    }
  }
  return out;
}
