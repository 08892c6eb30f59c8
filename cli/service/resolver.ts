// idresolver: task rows show service and node names; lookups are cached and best effort (an error shows the ID).
import type { SwarmApi } from '../client/swarm.js';
import { get, str } from '../swarm/json.js';
import type { Resolver } from '../swarm/task-print.js';

export function idResolver(api: SwarmApi, noResolve: boolean): Resolver {
  const cache = new Map<string, string>();
  const cached = async (key: string, id: string, look: () => Promise<string>): Promise<string> => {
    if (noResolve) return id;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    let name: string;
    try {
      name = await look();
    } catch {
      name = id;
    }
    cache.set(key, name);
    return name;
  };
  return {
    service: (id) =>
      cached(`s:${id}`, id, async () => {
        // docker's client refuses an empty ID before any request; the resolver then shows it as is.
        if (id.trim() === '') return id;
        const { value } = await api.service(id, false);
        return str(get(value, 'Spec', 'Name'));
      }),
    node: (id) =>
      cached(`n:${id}`, id, async () => {
        if (id.trim() === '') return id;
        const { value } = await api.node(id);
        return str(get(value, 'Spec', 'Name')) || str(get(value, 'Description', 'Hostname')) || id;
      }),
  };
}
