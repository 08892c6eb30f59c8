// The etcd member's URLs chosen at `manager init --store etcd`: --etcd-client-addr / --etcd-peer-addr (HOST:PORT),
// else etcd's ports 2379/2380 on the advertise address's host. etcd listens on exactly these (its listen URLs must be
// IP addresses) and the member certificate carries them as IP SANs, so a host name is refused here, at init.
import { isIP } from 'node:net';
import { parseAdvertiseAddr } from './advertise.js';
import { DEFAULT_ETCD_CLIENT_PORT, DEFAULT_ETCD_PEER_PORT } from '../etcd/member.js';

export interface EtcdUrls {
  clientUrl: string;
  peerUrl: string;
}

function urlOf(flag: string, addr: string): string {
  let hp;
  try {
    hp = parseAdvertiseAddr(addr);
  } catch {
    throw new Error(`invalid ${flag} "${addr}": expected IP:PORT or [IPv6]:PORT with a port from 1 to 65535`);
  }
  if (isIP(hp.host) === 0) throw new Error(`invalid ${flag} "${addr}": etcd listens on IP addresses only, not on a host name`);
  return `https://${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port}`;
}

/** The member's URLs from the operator's addresses, defaulting to the advertise host; throws naming the flag. */
export function etcdUrls(advertiseAddr: string, clientAddr?: string, peerAddr?: string): EtcdUrls {
  const { host } = parseAdvertiseAddr(advertiseAddr);
  const h = host.includes(':') ? `[${host}]` : host;
  const clientUrl = urlOf('--etcd-client-addr', clientAddr ?? `${h}:${DEFAULT_ETCD_CLIENT_PORT}`);
  const peerUrl = urlOf('--etcd-peer-addr', peerAddr ?? `${h}:${DEFAULT_ETCD_PEER_PORT}`);
  if (clientUrl === peerUrl) throw new Error(`--etcd-client-addr and --etcd-peer-addr must differ (both ${clientUrl})`);
  return { clientUrl, peerUrl };
}
