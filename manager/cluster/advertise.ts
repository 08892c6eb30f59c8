// The advertise address: where agents are told to join (the printed join command, the swarm's RemoteManagers).
// It is kept in cluster.json and may differ from what `manager run --listen` binds; when it surely cannot reach that
// listener (another port, or another IP than a specific bound one), the operator is warned.
import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** HOST:PORT or [IPv6]:PORT with a port from 1 to 65535; throws naming the problem. */
export function parseAdvertiseAddr(s: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`invalid advertise address "${s}": expected HOST:PORT or [IPv6]:PORT with a port from 1 to 65535`);
  return { host: m[1] ?? m[2]!, port };
}

/** As docker's --advertise-addr: a host without a port gets 2377. Throws on anything not HOST[:PORT]. */
export function normalizeAdvertiseAddr(s: string, defaultPort = 2377): string {
  const t = s.trim();
  const withPort = /^[^:[\]\s]+$/.test(t) || /^\[[^\]]+\]$/.test(t) ? `${t}:${defaultPort}` : t;
  parseAdvertiseAddr(withPort);
  return withPort;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/** Why agents told to join `advertise` would not reach a listener on host:port, or null when they may. */
export function advertiseMismatch(advertise: string, listen: HostPort): string | null {
  let a: HostPort;
  try {
    a = parseAdvertiseAddr(advertise);
  } catch {
    return `the advertise address "${advertise}" is not HOST:PORT`;
  }
  const shown = `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
  const fix = 'the printed join command will not reach it; change it with "runsecrets manager update --advertise-addr HOST:PORT" or change --listen';
  if (a.port !== listen.port) return `agents are told to join ${advertise} (the advertise address) but this manager listens on ${shown}: ${fix}`;
  if (!WILDCARD.has(listen.host) && isIP(a.host) !== 0 && a.host !== listen.host) {
    return `agents are told to join ${advertise} (the advertise address) but this manager listens on ${shown} only: ${fix}`;
  }
  return null;
}
