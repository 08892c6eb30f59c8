// `manager update --advertise-addr HOST:PORT`: where agents are told to join, changed after init.
import { Option } from 'commander';
import { adminRequest, type AdminTarget } from './manager-admin.js';

export function advertiseAddrOption(): Option {
  return new Option('--advertise-addr <host:port>', 'the address agents are told to join (printed by init and join-token)');
}

/** Sets it on the running manager; prints the result and, on stderr, a warning if it cannot reach the listener. */
export async function updateAdvertiseAddr(to: AdminTarget, addr: string): Promise<void> {
  const r = (await adminRequest(to, 'POST', '/runsecrets/advertise', { AdvertiseAddr: addr })).body as { AdvertiseAddr: string; Warning: string | null };
  process.stdout.write(`Advertise address set to ${r.AdvertiseAddr}\n`);
  if (r.Warning) process.stderr.write(`Warning: ${r.Warning}\n`);
}
