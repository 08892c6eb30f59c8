// Cluster membership for `manager join` / `node promote|demote|rm`: add a member before it first starts (its peer
// URL), remove one, list them. The added member then starts with clusterState 'existing' and the initial cluster
// this returns (member.ts).
import type { Etcd3 } from 'etcd3';
import type { EtcdPeer } from './member.js';
import { errorMessage } from '../../shared/errors.js';

export interface EtcdMemberInfo {
  id: string;
  /** Empty until the member has started and announced itself. */
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** etcd refuses a reconfiguration until its leader has been in touch with every member for 5 s (strict reconfig
 * check: "etcdserver: unhealthy cluster"), e.g. just after a member started: retried until then. */
const UNHEALTHY_RETRY_MS = 15_000;

async function whenHealthy<T>(what: string, op: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + UNHEALTHY_RETRY_MS;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (!/unhealthy cluster|circuit breaker is open/.test(errorMessage(err)) || Date.now() > deadline) throw new Error(`${what}: ${errorMessage(err)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function listMembers(client: Etcd3): Promise<EtcdMemberInfo[]> {
  const res = await client.cluster.memberList({});
  return res.members.map((m) => ({ id: m.ID, name: m.name, peerUrls: m.peerURLs, clientUrls: m.clientURLs, isLearner: m.isLearner ?? false }));
}

/**
 * Adds the member `name` with `peerUrl` to the cluster. Returns its ID and the initial cluster it must start with:
 * every member's name and peer URL, the new one's included (etcd lists it without a name until it has started).
 */
export async function addMember(client: Etcd3, name: string, peerUrl: string): Promise<{ id: string; initialCluster: EtcdPeer[] }> {
  const res = await whenHealthy(`cannot add etcd member ${name}`, () => client.cluster.memberAdd({ peerURLs: [peerUrl] }));
  const initialCluster: EtcdPeer[] = [];
  for (const m of res.members) {
    const url = m.peerURLs[0];
    if (!url) continue;
    const own = m.ID === res.member.ID;
    // A member added earlier that never started has no name yet: it cannot be named in a command line.
    if (!own && m.name === '') throw new Error(`cannot add etcd member ${name}: member ${m.ID} (${url}) was added but never started; remove it first`);
    initialCluster.push({ name: own ? name : m.name, peerUrl: url });
  }
  return { id: res.member.ID, initialCluster };
}

/** Removes the member named `name` (a manager's node ID); false when there is none. */
export async function removeMember(client: Etcd3, name: string): Promise<boolean> {
  const m = (await listMembers(client)).find((x) => x.name === name);
  if (!m) return false;
  await whenHealthy(`cannot remove etcd member ${name}`, () => client.cluster.memberRemove({ ID: m.id }));
  return true;
}
