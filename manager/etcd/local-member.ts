// The manager's own member, from what the manager knows: its state dir, the cluster CA, its node ID and advertise
// host. Issues the member certificate on first use (kept in STATE-DIR/etcd/tls), picks the default URLs
// (member.ts: 2379/2380 on the advertise host) unless the operator set others, and returns the supervised member.
import { existsSync } from 'node:fs';
import type { Logger } from '../../shared/log.js';
import type { ClusterCA } from '../pki/ca.js';
import { issueEtcdMemberCert } from '../pki/etcd-certs.js';
import { EtcdMember, defaultMemberUrls, etcdMemberPaths, writeMemberTls, type EtcdPeer, type EtcdTlsFiles } from './member.js';

export interface LocalMemberOptions {
  stateDir: string;
  ca: ClusterCA;
  /** The manager's node ID: the member's name and its certificate's CN. */
  nodeId: string;
  /** The cluster ID: etcd's --initial-cluster-token. */
  clusterId: string;
  /** The advertise address's host (an IP: it goes in the certificate's SANs). */
  advertiseHost: string;
  clientUrl?: string;
  peerUrl?: string;
  /** Founding a cluster (`manager init --store etcd`): 'new' and only this member; joining: from membership.addMember. */
  clusterState: 'new' | 'existing';
  initialCluster?: EtcdPeer[];
  log: Logger;
  extraArgs?: string[];
}

function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

export async function localMember(o: LocalMemberOptions): Promise<{ member: EtcdMember; tls: EtcdTlsFiles; clientUrl: string; peerUrl: string }> {
  const defaults = defaultMemberUrls(o.advertiseHost);
  const clientUrl = o.clientUrl ?? defaults.clientUrl;
  const peerUrl = o.peerUrl ?? defaults.peerUrl;
  const paths = etcdMemberPaths(o.stateDir);
  let tls = paths.tls;
  if (!existsSync(tls.certFile)) {
    const ips = [...new Set([hostOf(clientUrl), hostOf(peerUrl), o.advertiseHost])].filter((h) => /^[\d.]+$/.test(h) || h.includes(':'));
    tls = writeMemberTls(o.stateDir, o.ca.certPem, await issueEtcdMemberCert(o.ca, o.nodeId, ips));
    o.log.info({ ips }, 'etcd member certificate issued');
  }
  const member = new EtcdMember({
    name: o.nodeId,
    dataDir: paths.dataDir,
    tls,
    clientUrl,
    peerUrl,
    initialCluster: o.initialCluster ?? [{ name: o.nodeId, peerUrl }],
    clusterState: o.clusterState,
    clusterToken: o.clusterId,
    log: o.log.child({ part: 'etcd' }),
    ...(o.extraArgs ? { extraArgs: o.extraArgs } : {}),
  });
  return { member, tls, clientUrl, peerUrl };
}
