// Bounds what an unauthenticated client can hold on the TLS port. Every accepted TCP connection is unauthenticated
// until its TLS handshake ends with a valid cluster certificate: while handshaking, and afterwards when it has no
// certificate (join-only). Such connections are capped in total and per source address; when a cap is hit, the
// OLDEST unauthenticated connection (of that source, or of all) is destroyed to admit the new one, so a flood
// churns through itself instead of holding descriptors, and a fresh legitimate handshake still gets its turn.
// The caps are derived from the process's descriptor limit so that the Unix socket, the store and authenticated
// clients always keep descriptors (they share the limit with the flood).
import type net from 'node:net';
import { readFileSync } from 'node:fs';

export interface GuardLimits {
  /** Unauthenticated connections at once, from everyone. */
  total: number;
  /** Unauthenticated connections at once, from one source address. */
  perSource: number;
}

/** The soft RLIMIT_NOFILE of this process. Node raises it to the hard limit at start (src/node.cc), so this is as
 * high as it can get without privileges; read from /proc since node has no getrlimit. */
export function openFileLimit(limitsText?: string): number {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return 1024;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m) return 1024;
  return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
}

/**
 * A quarter of the descriptors (at most 8192) for unauthenticated connections, half of that per source: the other
 * three quarters stay free for the Unix socket, the store, agents and admins whatever the flood does. Per source is
 * not smaller because a legitimate client behind the same address (NAT, or 127.0.0.1 in tests) must finish its
 * handshake before that many newer connections push it out.
 */
export function guardLimitsFor(fdLimit: number): GuardLimits {
  const total = Math.max(16, Math.min(8192, Math.floor(fdLimit / 4)));
  return { total, perSource: Math.max(4, Math.floor(total / 2)) };
}

/** The descriptors an HTTP server may hold for connections of any kind: all but a reserve for everything else. */
export function maxConnectionsFor(fdLimit: number): number {
  return Math.max(64, fdLimit - Math.max(256, Math.floor(fdLimit / 8)));
}

export class UnauthenticatedConnections {
  /** Insertion order is age order: the first entry is the oldest. */
  private readonly all = new Map<net.Socket, string>();
  private readonly bySource = new Map<string, Set<net.Socket>>();
  /** How many connections were dropped to make room (for logs and tests). */
  evicted = 0;

  constructor(readonly limits: GuardLimits) {}

  get size(): number {
    return this.all.size;
  }

  /** A new TCP connection (before its handshake). Drops the oldest ones when a cap is reached. */
  admit(sock: net.Socket): void {
    const source = sock.remoteAddress ?? '';
    let mine = this.bySource.get(source);
    if (mine && mine.size >= this.limits.perSource) this.evict(mine.values().next().value as net.Socket);
    if (this.all.size >= this.limits.total) this.evict(this.all.keys().next().value as net.Socket);
    mine = this.bySource.get(source);
    if (!mine) this.bySource.set(source, (mine = new Set()));
    mine.add(sock);
    this.all.set(sock, source);
    sock.once('close', () => this.forget(sock));
  }

  /** The connection presented a valid cluster certificate: no longer counted. */
  authenticated(sock: net.Socket): void {
    this.forget(sock);
  }

  private evict(sock: net.Socket): void {
    this.forget(sock);
    this.evicted++;
    sock.destroy(); // never end(): a socket that has not finished its handshake never flushes nor closes
  }

  private forget(sock: net.Socket): void {
    const source = this.all.get(sock);
    if (source === undefined) return;
    this.all.delete(sock);
    const mine = this.bySource.get(source);
    mine?.delete(sock);
    if (mine?.size === 0) this.bySource.delete(source);
  }
}
