// The networks a Docker swarm manager has without being asked (reference §6): `ingress` (swarm, overlay), the
// engine's local `bridge`, `host` and `none`, and Swarm's own `bridge` and `host` networks (label
// com.docker.swarm.predefined), which moby never lists but uses when a service names `bridge` or `host`.
// They are fixed, not stored: their IDs are derived from the cluster ID, so they stay the same across restarts.
// Nothing is allocated: no subnet beyond ingress's configured one, no docker0, no docker_gwbridge (that bridge only
// serves the overlay data plane, which runsecrets does not have).
import { createHash } from 'node:crypto';
import type { NetworkRecord, NetworkView } from './network-record.js';

export const PREDEFINED_LABEL = 'com.docker.swarm.predefined';

/** Swarm's IDs are 25 base-36 characters, an engine's local network IDs 64 hex digits. */
function derivedId(clusterId: string, name: string, form: 'swarm' | 'local'): string {
  const h = createHash('sha256').update(`runsecrets predefined network\0${clusterId}\0${form}\0${name}`).digest();
  if (form === 'local') return h.toString('hex');
  h[0] = (h[0] ?? 0) | 0x80;
  return BigInt('0x' + h.subarray(0, 17).toString('hex')).toString(36).slice(1, 26);
}

function record(driver: string, scope: 'swarm' | 'local', extra: Partial<NetworkRecord> = {}): NetworkRecord {
  return {
    Driver: driver,
    Scope: scope,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigOnly: false,
    ConfigFrom: '',
    Options: scope === 'local' ? {} : null,
    Labels: scope === 'local' ? {} : null,
    ...extra,
  };
}

export function predefinedNetworks(cluster: { clusterId: string; createdAt: string }): NetworkView[] {
  const v = (name: string, form: 'swarm' | 'local', rec: NetworkRecord, hidden = false): NetworkView => ({
    id: derivedId(cluster.clusterId, name, form),
    name,
    createdAt: cluster.createdAt,
    rec,
    predefined: true,
    hidden,
  });
  return [
    // swarmkit newIngressNetwork: overlay, ingress, 10.0.0.0/24 in its spec.
    v('ingress', 'swarm', record('overlay', 'swarm', { Ingress: true, IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '10.0.0.0/24' }] } })),
    // swarmkit newPredefinedNetwork for the allocator's predefined bridge and host.
    v('bridge', 'swarm', record('bridge', 'swarm', { Labels: { [PREDEFINED_LABEL]: 'true' } }), true),
    v('host', 'swarm', record('host', 'swarm', { Labels: { [PREDEFINED_LABEL]: 'true' } }), true),
    v('bridge', 'local', record('bridge', 'local')),
    v('host', 'local', record('host', 'local')),
    v('none', 'local', record('null', 'local')),
  ];
}
