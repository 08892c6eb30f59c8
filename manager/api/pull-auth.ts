// `--with-registry-auth`: the X-Registry-Auth value sent on service create/update, kept with the service as moby keeps
// ContainerSpec.PullOptions.RegistryAuth (docker-swarm-wave2.md §4.3). The value is stored as sent (moby does not
// check it either; nodes decode it before pulling), beside the spec, never inside it: the API never shows it.
import type { IncomingMessage } from 'node:http';
import type { ServiceRecord, ServiceSpec } from '../orchestrator/types.js';
import { ApiError } from './http.js';

/** Far beyond any real header: Node refuses request headers over 16 KiB in total anyway. */
export const MAX_PULL_AUTH = 16 * 1024;

/** The X-Registry-Auth header's value, or undefined when absent or empty. */
export function pullAuthHeader(req: IncomingMessage): string | undefined {
  const v = req.headers['x-registry-auth'];
  if (typeof v !== 'string' || v === '') return undefined;
  if (v.length > MAX_PULL_AUTH) throw new ApiError(400, `X-Registry-Auth header of ${v.length} characters exceeds ${MAX_PULL_AUTH}`);
  return v;
}

/** The credentials fields of the service record after a create: only those the request sent. */
export function pullAuthOnCreate(header: string | undefined): Pick<ServiceRecord, 'pullAuth'> {
  return header === undefined ? {} : { pullAuth: header };
}

/**
 * The credentials fields after an update, as moby's UpdateService: a header replaces them; without one,
 * registryAuthFrom picks the current spec's (`spec`, the default, also when empty) or the previous spec's
 * (`previous-spec`). A rollback takes the previous spec whole, its credentials included (swarmkit's
 * UpdateService with Rollback=PREVIOUS ignores the request's spec), and the current ones become the previous.
 * Errors are moby's (plain errors: HTTP 500).
 */
export function pullAuthOnUpdate(cur: ServiceRecord, header: string | undefined, from: string | null, rollback: boolean): Pick<ServiceRecord, 'pullAuth' | 'previousPullAuth'> {
  let next: string | undefined;
  if (header !== undefined) next = header;
  else if (from === null || from === '' || from === 'spec') next = cur.pullAuth;
  else if (from === 'previous-spec') {
    if (!cur.PreviousSpec) throw new ApiError(500, 'service does not have a previous spec');
    next = cur.previousPullAuth;
  } else throw new ApiError(500, 'unsupported registryAuthFrom value');
  if (rollback) next = cur.previousPullAuth;
  const out: Pick<ServiceRecord, 'pullAuth' | 'previousPullAuth'> = {};
  if (next !== undefined) out.pullAuth = next;
  if (cur.pullAuth !== undefined) out.previousPullAuth = cur.pullAuth;
  return out;
}

/**
 * Drops ContainerSpec.PullOptions (any case) from a spec a client sent: moby's API ContainerSpec has no such field,
 * so Docker never stores nor shows one sent in the body; credentials come only from the header.
 */
export function withoutPullOptions(spec: ServiceSpec): ServiceSpec {
  const tt = spec.TaskTemplate;
  if (tt === null || typeof tt !== 'object' || Array.isArray(tt)) return spec;
  const cs = (tt as Record<string, unknown>).ContainerSpec;
  if (cs === null || typeof cs !== 'object' || Array.isArray(cs)) return spec;
  for (const k of Object.keys(cs)) if (k.toLowerCase() === 'pulloptions') delete (cs as Record<string, unknown>)[k];
  return spec;
}
