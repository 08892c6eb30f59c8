// Requests to a node's own Engine API (agent/engine-api) over its session tunnel (shared/tunnel.ts): the manager
// answers docker ps/exec/logs by asking the node that runs the container.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TunnelStream } from '../../shared/tunnel.js';
import { ApiError } from './http.js';

export interface NodeTunnels {
  connectedNodes(): string[];
  openStream(nodeId: string): TunnelStream | null;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1): never forwarded either way. */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

export function endToEnd(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  return out;
}

export function openTunnel(t: NodeTunnels, nodeId: string): TunnelStream {
  const s = t.openStream(nodeId);
  if (!s) throw new ApiError(503, `node ${nodeId} is not connected to the manager (or has too many open streams)`);
  return s;
}

/** A node's answer must start (status and headers: logs --follow sends them at once) within this long: an agent
 * without the tunnel (an older version) ignores the stream and would leave the request hanging. */
export const NODE_ANSWER_TIMEOUT_MS = 10_000;

/** One request to the node; resolves with its response (streaming). The body, if any, is piped from `body`. */
export function nodeRequest(t: NodeTunnels, nodeId: string, o: { method: string; path: string; headers?: Record<string, string | string[]>; body?: IncomingMessage | Buffer }): Promise<IncomingMessage> {
  const stream = openTunnel(t, nodeId);
  return new Promise((resolve, reject) => {
    const req = http.request({
      method: o.method,
      path: o.path,
      headers: { ...o.headers, host: 'node', connection: 'close' },
      createConnection: () => stream as unknown as import('node:net').Socket,
    });
    const timer = setTimeout(() => {
      reject(new ApiError(504, `node ${nodeId} did not answer within ${NODE_ANSWER_TIMEOUT_MS / 1000} s (an agent without the session tunnel?)`));
      req.destroy();
    }, NODE_ANSWER_TIMEOUT_MS);
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(new ApiError(502, `node ${nodeId}: ${err.message}`));
    });
    const body = o.body;
    if (Buffer.isBuffer(body)) req.end(body);
    else if (body) body.pipe(req);
    else req.end();
  });
}

/** Reads a whole (small) answer of a node as JSON. */
export async function nodeJson(t: NodeTunnels, nodeId: string, method: string, path: string, body?: Buffer): Promise<{ status: number; body: unknown }> {
  const res = await nodeRequest(t, nodeId, { method, path, ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}) });
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return { status: res.statusCode ?? 500, body: text.trim() === '' ? null : JSON.parse(text) };
  } catch {
    throw new ApiError(502, `node ${nodeId} answered ${res.statusCode ?? '?'} with a body that is not JSON`);
  }
}

/** Passes a hijacked connection (exec start with Upgrade: tcp) through to the node as raw bytes both ways. */
export function pipeRaw(t: NodeTunnels, nodeId: string, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const stream = openTunnel(t, nodeId);
  // The client half-closes when its stdin ends (over TLS: a close_notify) and still reads the output: an https
  // server's sockets are not half-open by default, and would end our side at once.
  (socket as Duplex & { allowHalfOpen: boolean }).allowHalfOpen = true;
  const lines = [`${req.method ?? 'POST'} ${req.url ?? '/'} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  stream.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (head.length > 0) stream.write(head);
  socket.on('error', () => stream.destroy());
  stream.on('error', () => socket.destroy());
  socket.pipe(stream);
  stream.pipe(socket);
  socket.once('close', () => stream.destroy());
}
