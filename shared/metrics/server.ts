// The metrics listener of a daemon (--metrics-listen HOST:PORT): GET /metrics (Prometheus text), /healthz (the
// process answers: its event loop runs) and /readyz (200 once it serves, 503 with the reason before). Plain HTTP
// and no authentication, like Prometheus exporters: meant for a loopback or otherwise private address; it holds
// counts and latencies, never a secret's bytes or name.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { Registry } from './registry.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsServerOptions {
  listen: string; // HOST:PORT, [IPv6]:PORT; port 0 picks a free one
  registry: Registry;
  /** null when ready; otherwise why not (sent with the 503). */
  notReady: () => string | null;
  log: Logger;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export function parseMetricsListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`invalid --metrics-listen "${s}": expected HOST:PORT, e.g. 127.0.0.1:9477`);
  return { host: m[1] ?? m[2]!, port };
}

function answer(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const { host, port } = parseMetricsListen(o.listen);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, 'method not allowed\n');
    if (path === '/healthz') return answer(res, 200, 'ok\n');
    if (path === '/readyz') {
      const why = o.notReady();
      return why === null ? answer(res, 200, 'ready\n') : answer(res, 503, `not ready: ${why}\n`);
    }
    if (path !== '/metrics') return answer(res, 404, 'not found: try /metrics, /healthz or /readyz\n');
    o.registry.render().then(
      (text) => answer(res, 200, text, METRICS_CONTENT_TYPE),
      (err) => answer(res, 500, `metrics failed: ${errorMessage(err)}\n`),
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen for metrics on ${o.listen}: ${errorMessage(err)}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  o.log.info({ host, port: bound }, 'metrics, healthz and readyz listening');
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
