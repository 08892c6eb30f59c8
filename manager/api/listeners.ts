// The two ways in: a Unix socket (mode 0600, so root only) and TCP with mutual TLS 1.3 against the cluster CA.
import http, { STATUS_CODES } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseSubject, roleFromOu } from '../../shared/pki.js';
import type { Logger } from '../../shared/log.js';
import { LogLimiter } from '../../shared/log-limit.js';
import { refusedRequests } from '../metrics.js';
import type { Peer, Router } from './router.js';
import { UnauthenticatedConnections, guardLimitsFor, maxConnectionsFor, openFileLimit, type GuardLimits } from './conn-guard.js';

export interface ListenAddr {
  host: string;
  port: number;
}

export function parseListenAddr(s: string): ListenAddr {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`invalid listen address "${s}": expected ADDR:PORT, [IPv6]:PORT or :PORT`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/**
 * Slow or stalled clients are cut off (node answers 408 and closes): headers must be in within 10 s and the whole
 * request within 30 s (a full-size secret over a slow link takes far less). Node's defaults (60 s, 5 min) let a
 * few hundred dribbling connections hold the manager's sockets for minutes. A missing Host header is refused by the
 * router, with a JSON message (node's own check answers a bare 400).
 */
export const SERVER_TIMEOUTS = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000, requireHostHeader: false } as const;
/** An idle keep-alive connection is closed after this long (node's default, made explicit). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** A TLS handshake must be done within this long (node's default is 120 s: a flood of silent connections would
 * hold descriptors for two minutes each). A real client over a slow link needs a few round trips. */
export const HANDSHAKE_TIMEOUT_MS = 5_000;
/** The TLS port's accept queue length. */
export const LISTEN_BACKLOG = 4096;
/** On shutdown, requests in flight get this long; then every connection is destroyed. */
export const CLOSE_GRACE_MS = 2_000;

/** Every raw connection of each server, so that shutdown can destroy the ones http does not track (handshaking
 * TLS sockets, upgraded WebSockets): server.close() waits for all of them. */
const openSockets = new WeakMap<net.Server, Set<net.Socket>>();

function trackSockets(server: net.Server): void {
  const set = new Set<net.Socket>();
  openSockets.set(server, set);
  server.on('connection', (sock: net.Socket) => {
    set.add(sock);
    sock.once('close', () => set.delete(sock));
  });
}

/**
 * Requests node's parser refuses (bad method, header or chunk syntax, oversize headers, timeouts) get Docker's JSON
 * `{"message": ...}` like every other refusal, instead of node's bare 400. The reason is llhttp's, never input bytes.
 */
function answerClientErrors(server: http.Server | https.Server, log: Logger, canAnswer: (s: net.Socket) => boolean = () => true): void {
  server.on('clientError', (err: Error & { code?: string; reason?: string }, socket: net.Socket) => {
    // The response being written on this connection, if a request is in flight (node keeps it there).
    const res = (socket as { _httpMessage?: http.ServerResponse | null })._httpMessage;
    // A TLS socket whose handshake failed or timed out cannot carry an answer: end() would queue it behind a
    // handshake that never completes, and the socket would never close (a descriptor held for good).
    if (err.code === 'ECONNRESET' || !socket.writable || res?.headersSent || !canAnswer(socket)) {
      socket.destroy();
      return;
    }
    if (res && res.req.complete && err.code !== 'ERR_HTTP_REQUEST_TIMEOUT') {
      // Junk after a complete request (e.g. data after "Connection: close"): that request is being handled and
      // may already have changed the store, so its own answer must go out, not a 400 in its place. Then close.
      // (A request whose own body is malformed is not complete: it gets the 400 below, and its handler stops.)
      res.once('finish', () => socket.end());
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const why = status === 408 ? 'request not received in time' : (err.reason ?? err.code ?? 'malformed request');
    log.debug({ code: err.code, status }, 'malformed HTTP request refused');
    const body = JSON.stringify({ message: `bad request: ${why}` }) + '\n';
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

/** Is something answering on this socket path? */
function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function listenUnix(router: Router, path: string, log: Logger): Promise<http.Server> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
    if (await socketAlive(path)) throw new Error(`another process is serving ${path}; is a manager already running?`);
    unlinkSync(path); // left over from a manager that died without cleaning up
  }
  const server = http.createServer(SERVER_TIMEOUTS, (req, res) => void router.handle(req, res, { transport: 'unix' }));
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  trackSockets(server);
  answerClientErrors(server, log);
  const oldMask = process.umask(0o177); // the socket is born 0600: no window in which others could connect
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(path, 0o600);
  server.on('error', (err) => log.error({ err: err.message }, 'unix socket server error'));
  return server;
}

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  caPem: string;
  isRevoked(serial: string): boolean;
  /** "METHOD /path" requests a client without a cluster certificate may make (joining); nothing else. */
  openPaths?: ReadonlySet<string>;
  /** Caps on unauthenticated connections (default: from the descriptor limit, see conn-guard.ts). */
  limits?: GuardLimits;
}

/** Who is on a TLS connection: its certificate's role and node, or null without a valid, unrevoked certificate. */
export function tlsPeer(sock: TLSSocket, isRevoked: (serial: string) => boolean): Peer | null {
  if (!sock.authorized) return null;
  const cert = sock.getPeerCertificate() as ReturnType<TLSSocket['getPeerCertificate']> | null;
  if (!cert || isRevoked(cert.serialNumber ?? '')) return null;
  const s = parseSubject(`CN=${cert.subject?.CN ?? ''}\nOU=${cert.subject?.OU ?? ''}`);
  return { transport: 'tls', role: roleFromOu(s.OU), nodeId: s.CN ?? '', serial: cert.serialNumber ?? '' };
}

export async function listenTls(router: Router, addr: ListenAddr, tls: TlsMaterial, log: Logger): Promise<https.Server> {
  // Every refusal is logged (who, why), rate-limited: anyone who can reach the port can cause them.
  const limit = new LogLimiter();
  const refused = (kind: string, fields: Record<string, unknown>, msg: string): void => {
    refusedRequests.inc({ reason: kind });
    const ok = limit.allow(kind);
    if (ok) log.warn({ ...fields, ...(ok.suppressed ? { suppressed: ok.suppressed } : {}) }, msg);
  };
  const server = https.createServer(
    {
      ...SERVER_TIMEOUTS,
      cert: tls.certPem,
      key: tls.keyPem,
      ca: [tls.caPem],
      requestCert: true,
      // A client without a certificate of our CA completes the handshake only so that it can join: such a
      // connection may make the open (join) requests and nothing else; any other request, and any WebSocket
      // upgrade, drops it. Every other connection must present a valid certificate, as before.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    },
    (req, res) => {
      if (!(req.socket as TLSSocket).authorized) {
        const what = `${req.method ?? ''} ${(req.url ?? '').split('?')[0]}`;
        if (!tls.openPaths?.has(what)) {
          // why: OpenSSL's verdict on the client's certificate (none, another CA's, expired…)
          const why = String((req.socket as TLSSocket).authorizationError ?? 'no certificate');
          refused('no-cert', { remote: req.socket.remoteAddress, what, why }, 'request without a valid cluster certificate refused');
          req.socket.destroy();
          return;
        }
        void router.handle(req, res, { transport: 'tls', role: null, nodeId: '', serial: '' });
        return;
      }
      // null once the socket is destroyed (e.g. refused as revoked on connect while its first request was parsed)
      const cert = (req.socket as TLSSocket).getPeerCertificate() as ReturnType<TLSSocket['getPeerCertificate']> | null;
      // Checked per request too: a certificate revoked while its connection is open stops working at once.
      if (!cert || tls.isRevoked(cert.serialNumber ?? '')) {
        if (cert) refused('revoked', { serial: cert.serialNumber, remote: req.socket.remoteAddress }, 'revoked certificate refused');
        req.socket.destroy();
        return;
      }
      const s = parseSubject(`CN=${cert.subject?.CN ?? ''}\nOU=${cert.subject?.OU ?? ''}`);
      const peer: Peer = { transport: 'tls', role: roleFromOu(s.OU), nodeId: s.CN ?? '', serial: cert.serialNumber ?? '' };
      void router.handle(req, res, peer);
    },
  );
  const fdLimit = openFileLimit();
  const guard = new UnauthenticatedConnections(tls.limits ?? guardLimitsFor(fdLimit));
  // Last resort beyond the guard: authenticated connections too leave a reserve of descriptors.
  server.maxConnections = maxConnectionsFor(fdLimit);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  trackSockets(server);
  server.on('connection', (sock: net.Socket) => {
    const before = guard.evicted;
    guard.admit(sock);
    if (guard.evicted > before) refused('unauthenticated-cap', { remote: sock.remoteAddress, unauthenticated: guard.size, ...guard.limits }, 'too many unauthenticated connections: oldest dropped');
  });
  /** Sockets whose handshake is done: only these can carry an HTTP answer. */
  const secured = new WeakSet<net.Socket>();
  answerClientErrors(server, log, (s) => secured.has(s));
  server.on('secureConnection', (sock: TLSSocket) => {
    secured.add(sock);
    if (!sock.authorized) return; // join-only connection (see above): stays counted as unauthenticated
    // The raw TCP socket under the TLS one is what the guard admitted (node keeps it as _parent).
    const raw = (sock as TLSSocket & { _parent?: net.Socket })._parent;
    if (raw) guard.authenticated(raw);
    const serial = (sock.getPeerCertificate() as { serialNumber?: string } | null)?.serialNumber ?? '';
    if (tls.isRevoked(serial)) {
      refused('revoked', { serial, remote: sock.remoteAddress }, 'revoked certificate refused');
      sock.destroy();
    }
  });
  server.on('tlsClientError', (err, sock) => refused('handshake', { err: err.message, remote: sock.remoteAddress }, 'TLS handshake refused'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A long accept queue (the kernel caps it at net.core.somaxconn): under a connection flood a short one
    // overflows, and a legitimate client's SYN is dropped and retried only after a second.
    server.listen({ port: addr.port, host: addr.host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err: err.message }, 'tls server error'));
  return server;
}

/** Stops accepting, lets requests in flight finish for CLOSE_GRACE_MS, then destroys every connection left
 * (handshaking and upgraded ones included), so that this always resolves shortly after the grace. */
export function closeServer(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => {
      server.closeAllConnections();
      for (const s of openSockets.get(server) ?? []) s.destroy();
    }, CLOSE_GRACE_MS).unref();
  });
}
