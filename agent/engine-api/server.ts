// The node's own Docker API (reference §3): `docker ps`, `docker exec`, `docker logs` against this node's
// containers, on a root-only Unix socket (default STATE/docker.sock) and, through the manager's session tunnel, on
// the manager's socket (accept(): the tunnel hands its byte streams here, no socket hop).
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import type { LogStore } from '../logs/index.js';
import { listenRootOnly, type RootSocket } from '../root-socket.js';
import type { EngineRuntime } from './containers.js';
import { ExecStore } from './exec-store.js';
import { handleUpgrade } from './hijack.js';
import { EngineRouter } from './router.js';
import { registerContainerRoutes } from './routes/containers.js';
import { registerExecRoutes } from './routes/exec.js';
import { registerLogRoutes } from './routes/logs.js';
import { registerSystemRoutes } from './routes/system.js';

export const ENGINE_SOCKET_NAME = 'docker.sock';

export function defaultEngineSocket(stateDir: string): string {
  return join(stateDir, ENGINE_SOCKET_NAME);
}

export interface EngineApiOptions {
  runtime: EngineRuntime;
  logs: LogStore;
  log: Logger;
  /** The Swarm header of /_ping (Docker's words: "active/worker" on a node). */
  swarmState?: () => string;
}

export interface EngineApi {
  /** Serves one connection (a tunnelled stream from the manager). */
  accept(conn: Duplex): void;
  /** Starts the Unix socket; resolves with its path. */
  listen(path: string): Promise<string>;
  close(): Promise<void>;
}

export function createEngineApi(o: EngineApiOptions): EngineApi {
  const router = new EngineRouter(o.log);
  const execs = new ExecStore();
  registerSystemRoutes(router, { swarmState: o.swarmState ?? (() => 'active/worker') });
  registerContainerRoutes(router, { runtime: o.runtime, execs });
  registerExecRoutes(router, { runtime: o.runtime, execs });
  registerLogRoutes(router, { runtime: o.runtime, logs: o.logs });
  const server = http.createServer({ requireHostHeader: false }, (req, res) => void router.handle(req, res));
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!handleUpgrade(req, socket, head, { execs, log: o.log })) socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  server.on('clientError', (_err, socket: Duplex) => socket.destroy());
  const conns = new Set<Duplex>();
  server.on('connection', (c: Duplex) => {
    conns.add(c);
    c.once('close', () => conns.delete(c));
  });
  let sock: RootSocket | null = null;
  return {
    accept: (conn) => server.emit('connection', conn),
    async listen(p) {
      // Root only: whoever reaches it can exec into every task.
      sock = await listenRootOnly(server, p, 'engine API socket', o.log);
      return p;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.destroy();
        if (!server.listening) return resolve();
        server.close(() => resolve());
      }).finally(() => sock?.unlink()),
  };
}

