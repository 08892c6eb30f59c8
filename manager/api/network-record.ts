// Networks as the store keeps them and as Docker shows them (moby api/types/network.Inspect, reference §6). They are
// recorded, not built: tasks use the host's network, there is no overlay data plane and no address allocation, so
// IPAM shows what the creator asked for and Containers stays empty (null for swarm networks, as on a manager).
import type { StoredObject } from '../store/types.js';

export type NetworkScope = 'swarm' | 'local';

export interface IpamConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkRecord {
  Driver: string;
  Scope: NetworkScope;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigOnly: boolean;
  ConfigFrom: string;
  Options: Record<string, string> | null;
  Labels: Record<string, string> | null;
}

/** A network as the API sees one: a stored one, or one of the predefined ones (network-predefined.ts). */
export interface NetworkView {
  id: string;
  name: string;
  createdAt: string;
  rec: NetworkRecord;
  /** Predefined: bridge, host and none (local), ingress and Swarm's own bridge and host (swarm). */
  predefined: boolean;
  /** Swarm's predefined bridge and host: never listed (moby filterPredefinedNetworks), found by ID or scope=swarm. */
  hidden: boolean;
}

export function viewOf(o: StoredObject<NetworkRecord>): NetworkView {
  return { id: o.id, name: o.name ?? '', createdAt: o.createdAt, rec: o.spec, predefined: false, hidden: false };
}

/** moby network.Inspect, field for field; `Containers` is null on the manager's view of a swarm network. */
export function networkJson(n: NetworkView): Record<string, unknown> {
  const r = n.rec;
  return {
    Name: n.name,
    Id: n.id,
    Created: n.createdAt,
    Scope: r.Scope,
    Driver: r.Driver,
    EnableIPv6: r.EnableIPv6,
    IPAM: { Driver: r.IPAM.Driver, Options: r.IPAM.Options, Config: r.IPAM.Config },
    Internal: r.Internal,
    Attachable: r.Attachable,
    Ingress: r.Ingress,
    ConfigFrom: { Network: r.ConfigFrom },
    ConfigOnly: r.ConfigOnly,
    Containers: r.Scope === 'swarm' ? null : {},
    Options: r.Options,
    Labels: r.Labels,
  };
}

/** runconfig.IsPreDefinedNetwork: the names a daemon keeps for itself. */
export function isPredefinedName(name: string): boolean {
  return name === 'bridge' || name === 'host' || name === 'none' || name === 'default';
}
