// A minimal Docker Engine API client over a Unix socket or TCP (optionally mutual TLS), with docker's error texts.
// Reusable by every command group: it knows paths and JSON, not secrets.
import http from 'node:http';
import https from 'node:https';
import type { Endpoint } from './endpoint.js';
import { ConnectionError, DaemonError } from './errors.js';

export const API_VERSION = '1.47';

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  query?: Record<string, string>;
  /** A JSON body (serialised here). */
  json?: unknown;
}

// Go's url.PathEscape-like escaping for one path segment as Go's URL.String() writes it.
export function escapePathSegment(s: string): string {
  return Buffer.from(s, 'utf8')
    .toString('latin1')
    .replace(/[^A-Za-z0-9\-_.~$&+,:;=@]/g, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

const STATUS_TEXT: Record<number, string> = http.STATUS_CODES as Record<number, string>;

/** Node's TLS and socket errors in the words Go's net/http and crypto/tls use (as docker prints them). */
function goNetError(err: NodeJS.ErrnoException): string {
  const msg = err.message ?? String(err);
  const alert = /alert (certificate required|bad certificate|unknown ca|certificate revoked|certificate expired|handshake failure)/.exec(msg);
  if (alert) {
    const words: Record<string, string> = { 'unknown ca': 'unknown certificate authority' };
    return `remote error: tls: ${words[alert[1]!] ?? alert[1]}`;
  }
  if (['SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'].includes(err.code ?? '')) {
    return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
  }
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `tls: failed to verify certificate: x509: ${msg}`;
  if (err.code === 'ECONNRESET' || msg === 'socket hang up') return 'EOF';
  return msg;
}

export class EngineClient {
  constructor(
    readonly endpoint: Endpoint,
    readonly apiVersion = API_VERSION,
    private readonly userAgent = 'runsecrets-cli',
  ) {}

  /** Sends one request; resolves with any status; rejects only when no answer came (ConnectionError). */
  request(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
    const qs = opts.query && Object.keys(opts.query).length > 0 ? '?' + new URLSearchParams(opts.query).toString() : '';
    const fullPath = `/v${this.apiVersion}${path}${qs}`;
    const body = opts.json === undefined ? undefined : Buffer.from(JSON.stringify(opts.json), 'utf8');
    const headers: http.OutgoingHttpHeaders = { 'User-Agent': this.userAgent };
    if (body) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = body.length;
    }
    const ep = this.endpoint;
    return new Promise((resolve, reject) => {
      const onResponse = (res: http.IncomingMessage): void => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (err) => reject(new ConnectionError(`error reading response: ${err.message}`)));
      };
      const common = { method, path: fullPath, headers, agent: false as const };
      const req =
        ep.kind === 'unix'
          ? http.request({ ...common, socketPath: ep.socketPath, host: 'localhost' }, onResponse)
          : ep.tls
            ? https.request(
                { ...common, host: ep.host, port: ep.port, cert: ep.tls.cert, key: ep.tls.key, ca: ep.tls.ca, minVersion: 'TLSv1.3' },
                onResponse,
              )
            : http.request({ ...common, host: ep.host, port: ep.port }, onResponse);
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.connectionError(err, method, path + qs)));
      if (body) req.write(body);
      req.end();
    });
  }

  /** docker's wording: "Cannot connect to …" when nothing listens, else `error during connect: Get "url": why`. */
  private connectionError(err: NodeJS.ErrnoException, method: string, path: string): ConnectionError {
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'EACCES') {
      const hint = err.code === 'EACCES' ? ' (permission denied)' : '';
      return new ConnectionError(`Cannot connect to the runsecrets manager at ${this.endpoint.url}${hint}. Is the manager running?`);
    }
    const op = method.charAt(0) + method.slice(1).toLowerCase();
    return new ConnectionError(`error during connect: ${op} "${this.requestURL(path)}": ${goNetError(err)}`);
  }

  private requestURL(pathAndQuery: string): string {
    const ep = this.endpoint;
    const host = ep.kind === 'unix' ? 'api.moby.localhost' : `${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}`;
    const scheme = ep.kind === 'tcp' && ep.tls ? 'https' : 'http';
    return `${scheme}://${host}/v${this.apiVersion}${pathAndQuery}`;
  }

  /** Sends a request and turns a 4xx/5xx answer into DaemonError with docker's exact text. */
  async call(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
    const res = await this.request(method, path, opts);
    if (res.status >= 200 && res.status < 400) return res;
    throw new DaemonError(this.errorText(res, path, opts), res.status);
  }

  private errorText(res: ApiResponse, path: string, opts: RequestOptions): string {
    const statusMsg = `${res.status} ${STATUS_TEXT[res.status] ?? ''}`.trim();
    const qs = opts.query && Object.keys(opts.query).length > 0 ? '?' + new URLSearchParams(opts.query).toString() : '';
    const reqURL = this.requestURL(path + qs);
    const maxBody = 1024 * 1024;
    if (res.body.length >= maxBody) {
      return `request returned ${statusMsg} with a message (> ${maxBody} bytes) for API route and version ${reqURL}, check if the server supports the requested API version`;
    }
    if (res.body.length === 0) {
      return `request returned ${statusMsg} for API route and version ${reqURL}, check if the server supports the requested API version`;
    }
    let message: string;
    if (res.headers['content-type'] === 'application/json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(res.body.toString('utf8'));
      } catch (err) {
        return `Error reading JSON: ${(err as Error).message}`;
      }
      const m = parsed !== null && typeof parsed === 'object' ? (parsed as { message?: unknown }).message : undefined;
      message =
        typeof m === 'string' && m !== ''
          ? m.trim()
          : `API returned a ${res.status} (${STATUS_TEXT[res.status] ?? ''}) but provided no error-message`;
    } else {
      message = res.body.toString('utf8').trim();
    }
    return `Error response from daemon: ${message}`;
  }

  async getJSON(path: string, query?: Record<string, string>): Promise<{ value: unknown; raw: string }> {
    const res = await this.call('GET', path, { query });
    const raw = res.body.toString('utf8');
    return { value: JSON.parse(raw) as unknown, raw };
  }
}
