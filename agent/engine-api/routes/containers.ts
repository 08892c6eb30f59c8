// GET /containers/json (docker ps) and GET /containers/{id}/json (docker inspect) for this node's containers.
import { allContainers, findContainer, selectContainers, type EngineRuntime } from '../containers.js';
import type { ExecStore } from '../exec-store.js';
import { boolParam, parseFilters, sendJson } from '../http.js';
import type { EngineRouter } from '../router.js';
import { inspectView, listView } from '../views.js';

export function registerContainerRoutes(router: EngineRouter, o: { runtime: EngineRuntime; execs: ExecStore }): void {
  router.add('GET', '/containers/json', ({ res, query }) => {
    let list = selectContainers(allContainers(o.runtime), parseFilters(query.get('filters')), boolParam(query, 'all'));
    list.sort((a, b) => Date.parse(b.created) - Date.parse(a.created)); // newest first, as Docker lists them
    const limit = Number(query.get('limit') ?? '');
    if (Number.isInteger(limit) && limit > 0) list = list.slice(0, limit);
    sendJson(res, 200, list.map(listView));
  });
  router.add('GET', '/containers/:id/json', ({ res, params }) => {
    const c = findContainer(o.runtime, params.id!);
    sendJson(res, 200, inspectView(c, o.execs.idsOf(c.containerId)));
  });
}
