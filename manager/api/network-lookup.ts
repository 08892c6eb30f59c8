// Finding a network by what a client typed, in moby's three orders and texts (reference §6):
// - inspect (network_routes.go getNetwork): exact ID, then exact name, then ID prefix, swarm networks also found
//   through the cluster when the term is an ID prefix or scope=swarm was asked;
// - remove (findUniqueNetwork): the same over the listed networks, with the "is ambiguous (...)" wording;
// - service attachments (daemon/cluster/helpers.go getNetwork, then populateNetworkID): swarm networks by ID,
//   name (case-insensitively, as swarmkit's name index) or ID prefix; the local predefined ones map to Swarm's own.
import { ApiError, rpcError } from './http.js';
import { isPredefinedName, type NetworkView } from './network-record.js';

function matches(all: NetworkView[], term: string): { byName: NetworkView[]; byPrefix: NetworkView[]; exact: NetworkView | undefined } {
  return {
    exact: all.find((n) => n.id === term),
    byName: all.filter((n) => n.name === term),
    byPrefix: term === '' ? [] : all.filter((n) => n.id.startsWith(term)),
  };
}

/** GET /networks/{id}. `all` holds every network, hidden ones too. */
export function lookupForInspect(all: NetworkView[], term: string, scope: string): NetworkView {
  const inScope = (n: NetworkView): boolean => scope === '' || n.rec.Scope === scope;
  let fromCluster: NetworkView | null = null;
  try {
    fromCluster = swarmFind(all, term);
  } catch {
    // moby only takes the cluster's answer when it found one network
  }
  if (fromCluster && (fromCluster.id.startsWith(term) || scope === 'swarm')) return fromCluster;
  const m = matches(all.filter((n) => !n.hidden && inScope(n)), term);
  if (m.exact) return m.exact;
  if (m.byName.length === 1) return m.byName[0]!;
  if (m.byName.length > 1) throw new ApiError(400, `${m.byName.length} matches found based on name: network ${term} is ambiguous`);
  if (m.byPrefix.length === 1) return m.byPrefix[0]!;
  if (m.byPrefix.length > 1) throw new ApiError(400, `${m.byPrefix.length} matches found based on ID prefix: network ${term} is ambiguous`);
  throw new ApiError(404, `network ${term} not found`);
}

/** DELETE /networks/{id} (findUniqueNetwork): listed networks only; ingress is not found by name locally. */
export function lookupUnique(all: NetworkView[], term: string): NetworkView {
  const m = matches(
    all.filter((n) => !n.hidden),
    term,
  );
  if (m.exact) return m.exact;
  if (m.byName.length === 1) return m.byName[0]!;
  if (m.byName.length > 1) throw new ApiError(400, `network ${term} is ambiguous (${m.byName.length} matches found based on name)`);
  if (m.byPrefix.length === 1) return m.byPrefix[0]!;
  if (m.byPrefix.length > 1) throw new ApiError(400, `network ${term} is ambiguous (${m.byPrefix.length} matches found based on ID prefix)`);
  throw new ApiError(404, `network ${term} not found`);
}

/** swarmkit's view: GetNetwork by ID, else ListNetworks by name, else by ID prefix; null when none matched. */
function swarmFind(all: NetworkView[], term: string): NetworkView | null {
  const swarm = all.filter((n) => n.rec.Scope === 'swarm');
  const exact = swarm.find((n) => n.id === term);
  if (exact) return exact;
  let list = swarm.filter((n) => n.name.toLowerCase() === term.toLowerCase());
  if (list.length === 0) list = term === '' ? [] : swarm.filter((n) => n.id.startsWith(term));
  if (list.length === 0) return null;
  if (list.length > 1) throw new ApiError(400, `network ${term} is ambiguous (${list.length} matches found)`);
  return list[0]!;
}

/** populateNetworkID for one attachment target: the swarm network it names, or Docker's error. */
export function resolveAttachment(all: NetworkView[], target: string): NetworkView {
  const found = swarmFind(all, target);
  if (found) {
    // swarmkit validateNetworks
    if (found.rec.Ingress) throw rpcError('InvalidArgument', `Service cannot be explicitly attached to the ingress network "${found.name}"`);
    return found;
  }
  const local = all.find((n) => !n.hidden && n.rec.Scope === 'local' && (n.id === target || n.name === target));
  if (local && isPredefinedName(local.name)) {
    // Swarm has its own bridge and host; none has no swarm counterpart.
    throw new ApiError(404, `could not find the corresponding predefined swarm network: network ${local.name} not found`);
  }
  if (local) {
    throw new ApiError(403, `The network ${local.name} cannot be used with services. Only networks scoped to the swarm can be used, such as those created with the overlay driver.`);
  }
  throw new ApiError(404, `network ${target} not found`);
}
