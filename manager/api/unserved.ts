// What the manager answers for a route it does not serve: 501 naming the route, so that `docker images` or an SDK
// call says what failed ("page not found" did not), and one log line per route shape (not per request: any client
// can repeat it, and IDs in paths would make every request new).
import type { Logger } from '../../shared/log.js';
import { ApiError } from './http.js';

const MAX_SHAPES = 256;

/** The route's shape for the log: its first two segments, the rest elided (IDs, names). */
function shapeOf(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return '/' + parts.slice(0, 2).map((p) => p.slice(0, 40)).join('/') + (parts.length > 2 ? '/…' : '');
}

export class UnservedRoutes {
  private readonly logged = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** The error to answer with; logs the route's shape the first time it is asked for. */
  refuse(method: string, path: string): ApiError {
    const shape = `${method} ${shapeOf(path)}`;
    if (!this.logged.has(shape) && this.logged.size < MAX_SHAPES) {
      this.logged.add(shape);
      this.log.warn({ route: shape }, 'a client asked for a route runsecrets does not serve (logged once per route)');
    }
    const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
    return new ApiError(501, `runsecrets does not serve ${method} ${shown}: this manager answers the Docker Engine API for secrets, configs, services, tasks, nodes, networks, containers and the swarm (docs/manager.md lists the routes)`);
  }
}
