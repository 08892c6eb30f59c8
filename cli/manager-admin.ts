// A minimal client for the manager's own administration commands, over its Unix socket or, with -H /
// RUNSECRETS_HOST, over TCP with mutual TLS like every other command. The running manager holds the keys, so join
// tokens, unlock keys and certificates are asked of it rather than read from the state dir.
import http from 'node:http';
import https from 'node:https';
import type { Endpoint } from './client/endpoint.js';

/** Where an admin command connects (the same endpoints as the docker-like commands). */
export type AdminTarget = Endpoint;

export function socketTarget(socketPath: string): AdminTarget {
  return { kind: 'unix', url: `unix://${socketPath}`, socketPath };
}

export const DEFAULT_SOCKET = '/run/runsecrets/manager.sock';

export class DaemonError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface AdminResponse {
  status: number;
  body: unknown;
}

/** One request; resolves to the status and the raw body, rejects on connection failure. */
function send(to: AdminTarget, method: string, path: string, body?: unknown): Promise<{ status: number; raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const common = { method, path, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, raw: Buffer.concat(chunks) }));
    };
    const req =
      to.kind === 'unix'
        ? http.request({ ...common, socketPath: to.socketPath }, onResponse)
        : to.tls
          ? https.request({ ...common, host: to.host, port: to.port, cert: to.tls.cert, key: to.tls.key, ca: to.tls.ca }, onResponse)
          : http.request({ ...common, host: to.host, port: to.port }, onResponse);
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'Is the manager running?' : err.message;
      reject(new Error(`Cannot connect to the runsecrets manager at ${to.url}. ${why}`));
    });
    req.end(payload);
  });
}

function parseBody(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function daemonError(status: number, parsed: unknown): DaemonError {
  const msg = (parsed as { message?: unknown } | null)?.message;
  return new DaemonError(status, typeof msg === 'string' ? msg : `HTTP ${status}`);
}

export async function adminRequest(to: AdminTarget, method: string, path: string, body?: unknown): Promise<AdminResponse> {
  const { status, raw } = await send(to, method, path, body);
  const parsed = parseBody(raw);
  if (status >= 400) throw daemonError(status, parsed);
  return { status, body: parsed };
}

/** A request whose answer is bytes (a backup), not JSON. */
export async function adminRequestBytes(to: AdminTarget, method: string, path: string): Promise<Buffer> {
  const { status, raw } = await send(to, method, path);
  if (status >= 400) throw daemonError(status, parseBody(raw));
  return raw;
}
