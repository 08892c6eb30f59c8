// `manager init --store etcd`, one manager: the store on the manager's own etcd member. Starts the supervised member
// (its certificate from the cluster CA on first use), waits until it is healthy, opens EtcdStore on it with the
// member's client TLS, and campaigns in the leader election (with one manager: always leader once started).
// Closing is the reverse: elector, store, member (the manager stops its dispatcher and orchestrator before).
import { URL } from 'node:url';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import type { Etcd3 } from 'etcd3';
import type { OpenCluster, EtcdStoreChoice } from '../cluster/state.js';
import { EtcdStore } from '../store/etcd.js';
import { etcdClient } from './client.js';
import { LeaderElector } from './leader.js';
import { localMember } from './local-member.js';
import type { EtcdMember } from './member.js';

export interface LocalEtcdBackend {
  store: EtcdStore;
  member: EtcdMember;
  elector: LeaderElector;
  /** Leaves the election (once; the manager does it before stopping its sessions). */
  leaveElection(): Promise<void>;
  /** Elector (if not left yet), store, member, in that order; each step runs even if the one before failed. */
  close(): Promise<void>;
}

/** How long the member gets to become healthy at start (it replays its WAL; a large one takes a while). */
const MEMBER_START_MS = 60_000;

export async function openLocalEtcd(cluster: OpenCluster, choice: EtcdStoreChoice, log: Logger): Promise<LocalEtcdBackend> {
  const { member, tls, clientUrl } = await localMember({
    stateDir: cluster.stateDir,
    ca: cluster.ca,
    nodeId: cluster.config.nodeId,
    clusterId: cluster.config.clusterId,
    advertiseHost: new URL(choice.clientUrl).hostname.replace(/^\[|\]$/g, ''),
    clientUrl: choice.clientUrl,
    peerUrl: choice.peerUrl,
    // Ignored by etcd once its data dir holds a member: later starts just resume.
    clusterState: 'new',
    log,
  });
  let store: EtcdStore | null = null;
  let client: Etcd3 | null = null;
  try {
    member.start();
    await member.waitHealthy(MEMBER_START_MS);
    store = await EtcdStore.open({ endpoints: [clientUrl], dek: cluster.dek, tls });
    client = etcdClient({ endpoints: [clientUrl], tls });
  } catch (err) {
    await store?.close().catch(() => undefined);
    await member.stop();
    throw new Error(`cannot open the etcd store on the local member ${clientUrl}: ${errorMessage(err)}`);
  }
  const elector = new LeaderElector({ client, id: cluster.config.nodeId, log: log.child({ part: 'leader' }) });
  const s = store;
  const c = client;
  let left: Promise<void> | null = null;
  const leaveElection = (): Promise<void> => (left ??= elector.stop().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'leaving the election failed')));
  return {
    store: s,
    member,
    elector,
    leaveElection,
    async close() {
      await leaveElection();
      c.close();
      await s.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing the etcd store failed'));
      await member.stop();
    },
  };
}
