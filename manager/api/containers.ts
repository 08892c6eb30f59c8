// The container routes on the manager (reference §3.1-§3.6), answered by the nodes that run the containers over
// their session tunnels (node-forward.ts): one DOCKER_HOST, the manager's, serves docker ps/inspect/exec/logs for
// the whole cluster. A manager admin can exec into any task, as on a Docker manager node (docs/SECURITY.md).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import type { Store } from '../store/types.js';
import type { Ctx, Router } from './router.js';
import { ApiError, readBody, sendJson } from './http.js';
import { findContainerRef } from './container-lookup.js';
import { endToEnd, nodeJson, nodeRequest, pipeRaw, type NodeTunnels } from './node-forward.js';

export interface ContainerRouteDeps {
  store: () => Store;
  tunnels: () => NodeTunnels;
  log: Logger;
}

/** Exec instances created through the manager, by ID -> node (the start, inspect and resize go to the same node). */
class ExecNodes {
  private readonly m = new Map<string, string>();
  set(execId: string, nodeId: string): void {
    this.m.set(execId, nodeId);
    if (this.m.size > 4096) this.m.delete(this.m.keys().next().value!);
  }
  get(execId: string): string {
    const n = this.m.get(execId);
    if (!n) throw new ApiError(404, `No such exec instance: ${execId}`);
    return n;
  }
}

/** Streams a node's answer to our client as it comes (logs --follow), headers first. */
async function relay(ctx: Ctx, deps: ContainerRouteDeps, nodeId: string, body?: IncomingMessage): Promise<void> {
  const res = await nodeRequest(deps.tunnels(), nodeId, { method: ctx.req.method ?? 'GET', path: ctx.req.url ?? '/', headers: endToEnd(ctx.req.headers), ...(body ? { body } : {}) });
  ctx.res.writeHead(res.statusCode ?? 502, endToEnd(res.headers));
  ctx.res.flushHeaders();
  ctx.res.once('close', () => res.destroy());
  res.pipe(ctx.res);
  await new Promise<void>((resolve) => ctx.res.once('close', resolve));
}

export function registerContainerRoutes(router: Router, deps: ContainerRouteDeps): ExecUpgrade {
  const execs = new ExecNodes();
  const nodeOf = async (ref: string): Promise<string> => findContainerRef(await deps.store().list('task'), ref).task.spec.NodeID;

  router.add('GET', '/containers/json', async (ctx) => {
    const tunnels = deps.tunnels();
    const answers = await Promise.all(
      tunnels.connectedNodes().map(async (n) => {
        try {
          const r = await nodeJson(tunnels, n, 'GET', ctx.req.url ?? '/containers/json');
          if (r.status === 200 && Array.isArray(r.body)) return r.body as Array<{ Created?: number }>;
          if (r.status === 400) throw new ApiError(400, String((r.body as { message?: unknown } | null)?.message ?? 'bad request'));
          deps.log.warn({ node: n, status: r.status }, 'a node did not list its containers');
        } catch (err) {
          if (err instanceof ApiError && err.status === 400) throw err;
          deps.log.warn({ node: n, err: errorMessage(err) }, 'a node did not list its containers');
        }
        return [];
      }),
    );
    let all = answers.flat().sort((a, b) => (b.Created ?? 0) - (a.Created ?? 0));
    const limit = Number(ctx.query.get('limit') ?? '');
    if (Number.isInteger(limit) && limit > 0) all = all.slice(0, limit);
    sendJson(ctx.res, 200, all);
  });
  router.add('GET', '/containers/:id/json', async (ctx) => relay(ctx, deps, await nodeOf(ctx.params.id!)));
  router.add('GET', '/containers/:id/logs', async (ctx) => relay(ctx, deps, await nodeOf(ctx.params.id!)));
  router.add('POST', '/containers/:id/exec', async (ctx) => {
    const node = await nodeOf(ctx.params.id!);
    const body = await readBody(ctx.req, 64 * 1024);
    const r = await nodeJson(deps.tunnels(), node, 'POST', ctx.req.url ?? '/', body);
    const id = (r.body as { Id?: unknown } | null)?.Id;
    if (r.status === 201 && typeof id === 'string') execs.set(id, node);
    sendJson(ctx.res, r.status, r.body);
  });
  router.add('GET', '/exec/:id/json', async (ctx) => relay(ctx, deps, execs.get(ctx.params.id!)));
  router.add('POST', '/exec/:id/resize', async (ctx) => relay(ctx, deps, execs.get(ctx.params.id!)));
  // A detached start (no Upgrade header): a plain request.
  router.add('POST', '/exec/:id/start', async (ctx) => relay(ctx, deps, execs.get(ctx.params.id!), ctx.req));

  return {
    handle(req, socket, head) {
      const m = /^(?:\/v\d+\.\d+)?\/exec\/([^/?]+)\/start(?:\?.*)?$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) return false;
      try {
        pipeRaw(deps.tunnels(), execs.get(decodeURIComponent(m[1]!)), req, socket, head);
      } catch (err) {
        const status = err instanceof ApiError ? err.status : 500;
        const body = JSON.stringify({ message: errorMessage(err) }) + '\n';
        socket.end(`HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      }
      return true;
    },
  };
}

/** The manager's 'upgrade' requests: the attached exec start (Upgrade: tcp) is a raw pipe to the node. */
export interface ExecUpgrade {
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}
