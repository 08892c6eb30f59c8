// A small router: method + path pattern (":name" segments, one "*name" of several), an optional `/v1.NN` prefix checked against the API
// versions we speak, and every error turned into Docker's `{"message": ...}` answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/log.js';
import { LogLimiter } from '../../shared/log-limit.js';
import { refusalReason, refusedRequests } from '../metrics.js';
import type { Role } from '../../shared/pki.js';
import { ApiError, API_VERSION, MIN_API_VERSION, commonHeaders, sendError } from './http.js';
import { UnservedRoutes } from './unserved.js';

export type Peer = { transport: 'unix' } | { transport: 'tls'; role: Role | null; nodeId: string; serial: string };

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  apiVersion: string;
  peer: Peer;
  log: Logger;
}

export type Handler = (ctx: Ctx) => Promise<void> | void;

/** Who may call a route. By default: the Unix socket, admin and manager certificates, and only when unlocked. */
export interface RouteOptions {
  /** Any cluster certificate may call it, worker ones too (ping, version, info). Implies whileLocked. */
  anyRole?: boolean;
  /** It also answers while the swarm is locked (unlock itself, ping, version, info). */
  whileLocked?: boolean;
}

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
  opts: RouteOptions;
}

/** Decides, before the handler runs, whether a request may proceed; throws an ApiError if not. */
export type Gate = (ctx: Ctx, opts: RouteOptions) => void;

const VERSION_PREFIX = /^\/v(\d+\.\d+)(\/.*)$/;

function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

export class Router {
  private readonly routes: Route[] = [];
  private readonly denials = new LogLimiter();
  private readonly unserved: UnservedRoutes;

  constructor(
    private readonly log: Logger,
    private readonly gate: Gate,
  ) {
    this.unserved = new UnservedRoutes(log);
  }

  add(method: string, pattern: string, handler: Handler, opts: RouteOptions = {}): void {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler, opts });
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | null {
    const parts = path.split('/').filter(Boolean);
    for (const route of this.routes) {
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue;
      const params: Record<string, string> = {};
      // "*name" takes one or more whole segments (image names hold slashes: /distribution/a/b:1/json).
      const star = route.parts.findIndex((p) => p.startsWith('*'));
      let routeParts = route.parts;
      let segs = parts;
      if (star >= 0) {
        const after = route.parts.length - star - 1;
        if (parts.length < route.parts.length) continue;
        const middle = parts.slice(star, parts.length - after);
        try {
          params[route.parts[star]!.slice(1)] = middle.map((m) => decodeURIComponent(m)).join('/');
        } catch {
          continue;
        }
        routeParts = [...route.parts.slice(0, star), ...route.parts.slice(star + 1)];
        segs = [...parts.slice(0, star), ...parts.slice(parts.length - after)];
      }
      if (routeParts.length !== segs.length) continue;
      let ok = true;
      for (let i = 0; i < segs.length && ok; i++) {
        const want = routeParts[i]!;
        const got = segs[i]!;
        if (want.startsWith(':')) {
          try {
            params[want.slice(1)] = decodeURIComponent(got);
          } catch {
            ok = false;
          }
        } else ok = want === got;
      }
      if (ok) return { route, params };
    }
    return null;
  }

  async handle(req: IncomingMessage, res: ServerResponse, peer: Peer): Promise<void> {
    commonHeaders(res);
    // The request target is origin-form ("/path?query"); splitting it is all the parsing it needs.
    const target = req.url ?? '/';
    const qi = target.indexOf('?');
    let path = qi < 0 ? target : target.slice(0, qi);
    const query = new URLSearchParams(qi < 0 ? '' : target.slice(qi + 1));
    let apiVersion = API_VERSION;
    try {
      // Go's net/http text; node's own check (requireHostHeader, off in listeners.ts) answers a bare 400.
      if (req.httpVersion === '1.1' && req.headers.host === undefined) throw new ApiError(400, 'missing required Host header');
      const v = VERSION_PREFIX.exec(path);
      if (v) {
        apiVersion = v[1]!;
        path = v[2]!;
        if (compareVersions(apiVersion, API_VERSION) > 0) {
          throw new ApiError(400, `client version ${apiVersion} is too new. Maximum supported API version is ${API_VERSION}`);
        }
        if (compareVersions(apiVersion, MIN_API_VERSION) < 0) {
          throw new ApiError(
            400,
            `client version ${apiVersion} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
          );
        }
      }
      const m = this.match(req.method ?? 'GET', path);
      if (!m) throw this.unserved.refuse(req.method ?? 'GET', path);
      const ctx: Ctx = { req, res, path, params: m.params, query, apiVersion, peer, log: this.log };
      this.gate(ctx, m.route.opts);
      await m.route.handler(ctx);
    } catch (err) {
      if (err instanceof ApiError) {
        // A body we did not read (too large, refused before reading) must not be taken for the next request.
        const unread = !req.complete;
        const reason = refusalReason(err.status);
        if (reason) refusedRequests.inc({ reason });
        const who = peer.transport === 'tls' ? { role: peer.role, node: peer.nodeId, serial: peer.serial } : { transport: 'unix' };
        if (err.status === 401 || err.status === 403) {
          // An access denial: worth a warning (who asked for what), rate-limited since a client can repeat it.
          const ok = this.denials.allow('denied');
          if (ok) this.log.warn({ method: req.method, path, status: err.status, ...who, ...(ok.suppressed ? { suppressed: ok.suppressed } : {}) }, 'request denied');
        } else this.log.debug({ method: req.method, path, status: err.status, reason: err.message }, 'request refused');
        sendError(res, err.status, err.message, unread);
      } else {
        this.log.error({ method: req.method, path, err: (err as Error).message }, 'request failed');
        sendError(res, 500, `internal error: ${(err as Error).message}`, !req.complete);
      }
    }
  }
}
