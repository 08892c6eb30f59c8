// Method + path matching for the node's Engine API, with Docker's optional /vN.NN prefix; errors become Docker's
// `{"message": …}` answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { COMMON_HEADERS, ENGINE_API_VERSION, ENGINE_MIN_API_VERSION, EngineError, sendError } from './http.js';

export interface EngineCtx {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  apiVersion: string;
}

export type EngineHandler = (ctx: EngineCtx) => Promise<void> | void;

const VERSION_PREFIX = /^\/v(\d+\.\d+)(\/.*)$/;

function cmp(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

/** The path without its version prefix, the API version asked for, and the query. Throws Docker's version errors. */
export function splitTarget(url: string): { path: string; apiVersion: string; query: URLSearchParams } {
  const qi = url.indexOf('?');
  let path = qi < 0 ? url : url.slice(0, qi);
  const query = new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1));
  let apiVersion = ENGINE_API_VERSION;
  const v = VERSION_PREFIX.exec(path);
  if (v) {
    apiVersion = v[1]!;
    path = v[2]!;
    if (cmp(apiVersion, ENGINE_API_VERSION) > 0) throw new EngineError(400, `client version ${apiVersion} is too new. Maximum supported API version is ${ENGINE_API_VERSION}`);
    if (cmp(apiVersion, ENGINE_MIN_API_VERSION) < 0) {
      throw new EngineError(400, `client version ${apiVersion} is too old. Minimum supported API version is ${ENGINE_MIN_API_VERSION}, please upgrade your client to a newer version`);
    }
  }
  return { path, apiVersion, query };
}

interface Route {
  method: string;
  parts: string[];
  handler: EngineHandler;
}

export class EngineRouter {
  private readonly routes: Route[] = [];

  constructor(private readonly log: Logger) {}

  add(method: string, pattern: string, handler: EngineHandler): void {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
  }

  /** Route parameters of the first route matching, or null. */
  static match(parts: string[], path: string): Record<string, string> | null {
    const segs = path.split('/').filter(Boolean);
    if (segs.length !== parts.length) return null;
    const params: Record<string, string> = {};
    for (let i = 0; i < segs.length; i++) {
      const want = parts[i]!;
      if (want.startsWith(':')) {
        try {
          params[want.slice(1)] = decodeURIComponent(segs[i]!);
        } catch {
          return null;
        }
      } else if (want !== segs[i]) return null;
    }
    return params;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of COMMON_HEADERS) res.setHeader(k, v);
    try {
      const { path, apiVersion, query } = splitTarget(req.url ?? '/');
      const method = req.method ?? 'GET';
      for (const r of this.routes) {
        if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
        const params = EngineRouter.match(r.parts, path);
        if (params) return await r.handler({ req, res, params, query, apiVersion });
      }
      throw new EngineError(404, 'page not found');
    } catch (err) {
      if (err instanceof EngineError) sendError(res, err.status, err.message);
      else {
        this.log.error({ method: req.method, err: errorMessage(err) }, 'engine API request failed');
        sendError(res, 500, errorMessage(err));
      }
    }
  }
}
