// cli/command/service/parse.go ParseSecrets/ParseConfigs: refuse two refs with one target, look all names up with
// one list call (name filters match by prefix), keep exact matches only, and fill in the IDs.
import { CliError } from '../client/errors.js';
import type { SwarmApi } from '../client/swarm.js';
import { refToJSON, type FileRef, type RefKind } from '../swarm/file-refs.js';
import { get, str, type Json } from '../swarm/json.js';

export async function resolveRefs(api: SwarmApi, kind: RefKind, refs: FileRef[]): Promise<Json[]> {
  if (refs.length === 0) return [];
  const byTarget = new Map<string, FileRef>();
  for (const r of refs) {
    if (byTarget.has(r.file.Name)) throw new CliError(`duplicate ${kind} target for ${r.name} not allowed`);
    byTarget.set(r.file.Name, r);
  }
  const found = new Map<string, string>();
  for (const o of await api.objectsByName(kind, [...new Set(refs.map((r) => r.name))])) {
    found.set(str(get(o, 'Spec', 'Name')), str(get(o, 'ID')));
  }
  // docker walks a Go map here (random order); we keep the order the flags were given in.
  return [...byTarget.values()].map((r) => {
    const id = found.get(r.name);
    if (id === undefined) throw new CliError(`${kind} not found: ${r.name}`);
    return refToJSON(r, id);
  });
}
