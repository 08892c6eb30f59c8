// What the manager answers for a route it does not serve. A route of Docker's Engine API that runsecrets does not
// implement answers 501 naming it (so that `docker images` or an SDK call says what failed, where "page not found"
// did not), logged once per route shape (any client can repeat it, and IDs in paths would make each request new).
// Anything else is not a route in Docker either: 404 "page not found", Docker's own answer.
import type { Logger } from '../../shared/log.js';
import { ApiError } from './http.js';

const MAX_SHAPES = 256;

/** Docker Engine API routes (API 1.47) that runsecrets does not serve; ":x" is one path segment. */
const DOCKER_ROUTES: ReadonlyArray<readonly [string, string]> = [
  ['GET', '/images/json'], ['POST', '/images/create'], ['GET', '/images/search'], ['POST', '/images/prune'],
  ['GET', '/images/get'], ['POST', '/images/load'], ['GET', '/images/:x/json'], ['GET', '/images/:x/history'],
  ['POST', '/images/:x/tag'], ['POST', '/images/:x/push'], ['GET', '/images/:x/get'], ['DELETE', '/images/:x'],
  ['POST', '/build'], ['POST', '/build/prune'], ['POST', '/build/cancel'], ['POST', '/commit'], ['POST', '/auth'],
  ['GET', '/events'], ['GET', '/system/df'], ['POST', '/session'], ['POST', '/grpc'],
  ['POST', '/containers/create'], ['POST', '/containers/prune'], ['DELETE', '/containers/:x'],
  ['POST', '/containers/:x/start'], ['POST', '/containers/:x/stop'], ['POST', '/containers/:x/restart'],
  ['POST', '/containers/:x/kill'], ['POST', '/containers/:x/pause'], ['POST', '/containers/:x/unpause'],
  ['POST', '/containers/:x/wait'], ['POST', '/containers/:x/rename'], ['POST', '/containers/:x/update'],
  ['POST', '/containers/:x/attach'], ['GET', '/containers/:x/attach/ws'], ['POST', '/containers/:x/resize'],
  ['GET', '/containers/:x/top'], ['GET', '/containers/:x/changes'], ['GET', '/containers/:x/stats'],
  ['GET', '/containers/:x/export'], ['GET', '/containers/:x/archive'], ['PUT', '/containers/:x/archive'],
  ['HEAD', '/containers/:x/archive'],
  ['GET', '/volumes'], ['POST', '/volumes/create'], ['POST', '/volumes/prune'], ['GET', '/volumes/:x'],
  ['PUT', '/volumes/:x'], ['DELETE', '/volumes/:x'],
  ['POST', '/networks/:x/connect'], ['POST', '/networks/:x/disconnect'], ['POST', '/networks/prune'],
  ['GET', '/plugins'], ['GET', '/plugins/privileges'], ['POST', '/plugins/pull'], ['GET', '/plugins/:x/json'],
  ['DELETE', '/plugins/:x'], ['POST', '/plugins/:x/enable'], ['POST', '/plugins/:x/disable'],
  ['POST', '/plugins/:x/upgrade'], ['POST', '/plugins/create'], ['POST', '/plugins/:x/push'], ['POST', '/plugins/:x/set'],
];

function isDockerRoute(method: string, path: string): boolean {
  const parts = path.split('/').filter(Boolean);
  return DOCKER_ROUTES.some(([m, pattern]) => {
    if (m !== method) return false;
    const p = pattern.split('/').filter(Boolean);
    return p.length === parts.length && p.every((seg, i) => seg === ':x' || seg === parts[i]);
  });
}

/** The route's shape for the log: its first two segments, the rest elided (IDs, names). */
function shapeOf(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return '/' + parts.slice(0, 2).map((p) => p.slice(0, 40)).join('/') + (parts.length > 2 ? '/…' : '');
}

export class UnservedRoutes {
  private readonly logged = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** The error to answer with; logs a Docker route's shape the first time it is asked for. */
  refuse(method: string, path: string): ApiError {
    if (!isDockerRoute(method, path)) return new ApiError(404, 'page not found');
    const shape = `${method} ${shapeOf(path)}`;
    if (!this.logged.has(shape) && this.logged.size < MAX_SHAPES) {
      this.logged.add(shape);
      this.log.warn({ route: shape }, 'a client asked for a Docker API route runsecrets does not serve (logged once per route)');
    }
    const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
    return new ApiError(501, `runsecrets does not serve ${method} ${shown}: this manager answers the Docker Engine API for secrets, configs, services, tasks, nodes, networks, containers and the swarm (docs/manager.md lists the routes)`);
  }
}
