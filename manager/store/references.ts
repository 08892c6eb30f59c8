// What references what: the objects a stored spec names by ID. A store uses it for 'unreferenced' guards (a secret
// may not go while a service names it) and, on etcd, to mark the referenced objects in the same transaction.
import type { Kind, StoredObject } from './types.js';

export interface Ref {
  kind: Kind;
  id: string;
}

/** The objects obj's spec references. Only services reference others (secrets, configs, networks), by ID. */
export function referencesOf(obj: Pick<StoredObject, 'kind' | 'spec'>): Ref[] {
  if (obj.kind !== 'service') return [];
  const spec = (obj.spec as { Spec?: Record<string, unknown> } | null)?.Spec;
  if (!spec) return [];
  const out: Ref[] = [];
  const tt = spec.TaskTemplate as { ContainerSpec?: Record<string, unknown>; Networks?: unknown } | undefined;
  const cs = tt?.ContainerSpec;
  for (const [kind, list, field] of [
    ['secret', cs?.Secrets, 'SecretID'],
    ['config', cs?.Configs, 'ConfigID'],
  ] as const) {
    if (!Array.isArray(list)) continue;
    for (const r of list) {
      const id = (r as Record<string, unknown> | null)?.[field];
      if (typeof id === 'string' && id !== '') out.push({ kind, id });
    }
  }
  for (const v of [tt?.Networks, spec.Networks]) {
    if (!Array.isArray(v)) continue;
    for (const a of v) {
      const target = (a as { Target?: unknown } | null)?.Target;
      if (typeof target === 'string' && target !== '') out.push({ kind: 'network', id: target });
    }
  }
  return out;
}

export function references(obj: Pick<StoredObject, 'kind' | 'spec'>, kind: Kind, id: string): boolean {
  return referencesOf(obj).some((r) => r.kind === kind && r.id === id);
}
