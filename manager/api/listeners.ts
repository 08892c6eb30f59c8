// The two ways in: a Unix socket (mode 0600, so root only) and TCP with mutual TLS 1.3 against the cluster CA.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseSubject, roleFromOu } from '../../shared/pki.js';
import type { Logger } from '../../shared/log.js';
import { LogLimiter } from '../../shared/log-limit.js';
import type { Peer, Router } from './router.js';

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
  const server = http.createServer((req, res) => void router.handle(req, res, { transport: 'unix' }));
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
}

export async function listenTls(router: Router, addr: ListenAddr, tls: TlsMaterial, log: Logger): Promise<https.Server> {
  // Every refusal is logged (who, why), rate-limited: anyone who can reach the port can cause them.
  const limit = new LogLimiter();
  const refused = (kind: string, fields: Record<string, unknown>, msg: string): void => {
    const ok = limit.allow(kind);
    if (ok) log.warn({ ...fields, ...(ok.suppressed ? { suppressed: ok.suppressed } : {}) }, msg);
  };
  const server = https.createServer(
    {
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
  server.on('secureConnection', (sock: TLSSocket) => {
    if (!sock.authorized) return; // join-only connection (see above)
    const serial = (sock.getPeerCertificate() as { serialNumber?: string } | null)?.serialNumber ?? '';
    if (tls.isRevoked(serial)) {
      refused('revoked', { serial, remote: sock.remoteAddress }, 'revoked certificate refused');
      sock.destroy();
    }
  });
  server.on('tlsClientError', (err, sock) => refused('handshake', { err: err.message, remote: sock.remoteAddress }, 'TLS handshake refused'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err: err.message }, 'tls server error'));
  return server;
}

export function closeServer(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // Requests in flight get a moment to finish; then every connection goes.
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}
