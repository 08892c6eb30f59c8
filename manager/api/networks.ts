// The networks API (moby api/server/router/network, reference §6): list with filters, create, inspect, remove.
// Networks are recorded for compose stacks and service specs; tasks use the host's network (docs/networks.md).
import { randomBytes } from 'node:crypto';
import { newId } from '../../shared/ids.js';
import type { Store, StoredObject } from '../store/types.js';
import { GuardError, NameConflictError, NotFoundError } from '../store/errors.js';
import type { ServiceRecord } from '../orchestrator/types.js';
import { isFinished, stateRank } from '../orchestrator/types.js';
import { ApiError, readJson, rpcError, sendEmpty, sendJson } from './http.js';
import { parseFilters } from './filters.js';
import type { Ctx, Router } from './router.js';
import { networkJson, viewOf, type NetworkView } from './network-record.js';
import { predefinedNetworks } from './network-predefined.js';
import { checkNetworkCreate, parseNetworkCreate } from './network-create.js';
import { networkFilter } from './network-filters.js';
import { lookupForInspect, lookupUnique } from './network-lookup.js';
import { attachedNetworkIds } from './service-networks.js';

const CREATE_BODY_LIMIT = 1 << 20;

export interface NetworksDeps {
  store(): Store;
  cluster(): { clusterId: string; createdAt: string };
}

function byId(a: NetworkView, b: NetworkView): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Every network the manager knows: predefined ones (hidden included), then the stored ones. */
export async function allNetworks(deps: NetworksDeps): Promise<NetworkView[]> {
  const stored = (await deps.store().list('network')).map(viewOf);
  return [...predefinedNetworks(deps.cluster()), ...stored];
}

/** strconv.ParseBool, with moby's wrapping. */
function verboseParam(v: string | null): void {
  if (v === null || v === '') return;
  if (!['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) {
    throw new ApiError(400, `invalid value for verbose: ${v}: strconv.ParseBool: parsing "${v}": invalid syntax`);
  }
}

export function registerNetworkRoutes(router: Router, deps: NetworksDeps): void {
  const services = async (): Promise<StoredObject<ServiceRecord>[]> => deps.store().list('service');

  router.add('GET', '/networks', async (ctx: Ctx) => {
    const svcs = await services();
    const used = new Set(svcs.flatMap((s) => attachedNetworkIds(s.spec.Spec)));
    const keep = networkFilter(parseFilters(ctx.query.get('filters')), (n) => used.has(n.id));
    const visible = (await allNetworks(deps)).filter((n) => !n.hidden);
    // moby: the cluster's networks first, then the engine's local ones.
    const swarm = visible.filter((n) => n.rec.Scope === 'swarm').sort(byId);
    const local = visible.filter((n) => n.rec.Scope !== 'swarm').sort(byId);
    sendJson(ctx.res, 200, [...swarm, ...local].filter(keep).map(networkJson));
  });

  router.add('GET', '/networks/:id', async (ctx: Ctx) => {
    verboseParam(ctx.query.get('verbose'));
    const n = lookupForInspect(await allNetworks(deps), ctx.params.id ?? '', ctx.query.get('scope') ?? '');
    sendJson(ctx.res, 200, networkJson(n));
  });

  router.add('POST', '/networks/create', async (ctx: Ctx) => {
    const c = parseNetworkCreate(await readJson(ctx.req, CREATE_BODY_LIMIT));
    // moby asks the cluster for the name first (swarmkit's names are case-insensitive): Swarm's own networks
    // (ingress, bridge, host) hold theirs.
    const clash = predefinedNetworks(deps.cluster()).find((n) => n.rec.Scope === 'swarm' && n.name.toLowerCase() === c.name.toLowerCase());
    if (clash) throw new ApiError(409, `network with name ${c.name} already exists`);
    checkNetworkCreate(c);
    if (c.record.Ingress) {
      const ingress = predefinedNetworks(deps.cluster()).find((n) => n.rec.Ingress)!;
      throw rpcError('AlreadyExists', `ingress network (${ingress.id}) is already present`);
    }
    // Swarm networks get swarmkit's IDs, local ones an engine's 64 hex digits.
    const id = c.record.Scope === 'swarm' ? newId() : randomBytes(32).toString('hex');
    try {
      const o = await deps.store().create('network', { id, name: c.name, spec: c.record });
      ctx.log.info({ network: o.id, name: c.name, driver: c.record.Driver, scope: c.record.Scope, index: o.version }, 'network created');
      sendJson(ctx.res, 201, { Id: o.id, Warning: '' });
    } catch (err) {
      if (err instanceof NameConflictError) throw new ApiError(409, `network with name ${c.name} already exists`);
      throw err;
    }
  });

  router.add('DELETE', '/networks/:id', async (ctx: Ctx) => {
    const n = lookupUnique(await allNetworks(deps), ctx.params.id ?? '');
    if (n.predefined && n.rec.Scope === 'local') throw new ApiError(403, `${n.name} is a pre-defined network and cannot be removed`);
    if (n.predefined && n.rec.Ingress) {
      // Docker lets an unused ingress go; runsecrets has no routing mesh, so its ingress is a fixed record.
      throw rpcError('FailedPrecondition', `network ${n.name} (${n.id}) is a swarm predefined network and cannot be removed: runsecrets has no routing mesh, so its ingress network is fixed`);
    }
    if (n.predefined) throw rpcError('FailedPrecondition', `network ${n.name} (${n.id}) is a swarm predefined network and cannot be removed`);
    if (n.rec.Scope === 'swarm') await checkNotInUse(deps.store(), n.id);
    try {
      // A service attaching to it meanwhile fails the delete (checkNotInUse's first check, committed with it).
      await deps.store().delete('network', n.id, [{ guard: 'unreferenced', kind: 'network', id: n.id, by: 'service' }]);
    } catch (err) {
      if (err instanceof NotFoundError) throw new ApiError(404, `network ${n.id} not found`);
      if (err instanceof GuardError) throw rpcError('FailedPrecondition', `network ${n.id} is in use by service ${err.referrers[0]?.id ?? ''}`);
      throw err;
    }
    ctx.log.info({ network: n.id, name: n.name }, 'network removed');
    sendEmpty(ctx.res, 204);
  });
}

/**
 * swarmkit removeNetwork: refused while a service's spec is attached to it, or a live task of a service still
 * runs attached to it (after a spec change dropped it). Unlike swarmkit, tasks of removed services do not count:
 * they are all being stopped, and counting them makes `docker stack rm` fail at random with "in use by task".
 */
async function checkNotInUse(store: Store, id: string): Promise<void> {
  const svcs = (await store.list('service')).sort((a, b) => (a.id < b.id ? -1 : 1));
  const user = svcs.find((s) => attachedNetworkIds(s.spec.Spec).includes(id));
  if (user) throw rpcError('FailedPrecondition', `network ${id} is in use by service ${user.id}`);
  const alive = new Set(svcs.map((s) => s.id));
  const tasks = (await store.list('task')).sort((a, b) => (a.id < b.id ? -1 : 1));
  const running = tasks.find((t) => {
    if (!alive.has(t.spec.ServiceID)) return false;
    // A job's task (desired `complete`) is live until it finishes.
    if ((stateRank(t.spec.DesiredState) > stateRank('running') && t.spec.DesiredState !== 'complete') || isFinished(t.spec.Status.State)) return false;
    const nets = (t.spec.Spec as { Networks?: unknown }).Networks;
    return Array.isArray(nets) && nets.some((a) => (a as { Target?: unknown } | null)?.Target === id);
  });
  if (running) throw rpcError('FailedPrecondition', `network ${id} is in use by task ${running.id}`);
}
