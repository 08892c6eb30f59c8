// Certificates for the managers' etcd members: issued by the cluster CA like every other, told apart by one DNS
// name only they carry. etcd is started with --client-cert-allowed-hostname and --peer-cert-allowed-hostname set to
// it, so a node's or an admin's certificate (same CA, clientAuth, no SANs) cannot reach etcd's client or peer port.
import type { ClusterCA } from './ca.js';
import { issueWithNewKey } from './ca.js';

export const ETCD_CERT_HOSTNAME = 'runsecrets-etcd';

export interface EtcdMemberCert {
  certPem: string;
  keyPem: string;
}

/**
 * A member certificate for the manager `nodeId`: serverAuth for its client and peer listeners, clientAuth for the
 * manager's own etcd client and for the member's connections to its peers. `ipAddresses` are the addresses its
 * client and peer URLs use (loopback is always added, for the manager's own client).
 */
export async function issueEtcdMemberCert(ca: ClusterCA, nodeId: string, ipAddresses: string[]): Promise<EtcdMemberCert> {
  const ips = [...new Set(['127.0.0.1', '::1', ...ipAddresses])];
  return issueWithNewKey(ca, { role: 'manager', nodeId, dnsNames: [ETCD_CERT_HOSTNAME, 'localhost'], ipAddresses: ips });
}
