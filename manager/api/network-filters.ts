// GET /networks filters, as moby's daemon/network FilterNetworks: driver and scope match exactly, name and id as
// filters.Args.Match does (equal, or the value as a regular expression), label as MatchKVList, dangling and type
// (builtin/custom) with moby's texts.
import { ApiError } from './http.js';
import { matchLabels, validateFilters, type FilterArgs } from './filters.js';
import { isPredefinedName, type NetworkView } from './network-record.js';

const ACCEPTED = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'] as const;

/** filters.Args.Match: the value equals, or the value read as a regular expression matches somewhere. */
function goMatch(values: string[], source: string): boolean {
  return values.some((v) => {
    if (v === source) return true;
    try {
      return new RegExp(v).test(source);
    } catch {
      return false; // Go skips a value that does not compile
    }
  });
}

export interface NetworkFilter {
  (n: NetworkView): boolean;
}

/** Builds the filter (or throws moby's error for a bad one); inUse tells whether services are attached. */
export function networkFilter(args: FilterArgs, inUse: (n: NetworkView) => boolean): NetworkFilter {
  validateFilters(args, ACCEPTED);
  const dangling = args.get('dangling') ?? [];
  if (dangling.length > 1) throw new ApiError(400, 'got more than one value for filter key "dangling"');
  let danglingOnly: boolean | null = null;
  if (dangling.length === 1) {
    const d = dangling[0]!;
    if (d === '1' || d === 'true') danglingOnly = true;
    else if (d === '0' || d === 'false') danglingOnly = false;
    else throw new ApiError(400, 'invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")');
  }
  const types = args.get('type') ?? [];
  for (const t of types) if (t !== 'builtin' && t !== 'custom') throw new ApiError(400, `invalid filter: 'type'='${t}'`);
  const drivers = args.get('driver') ?? [];
  const names = args.get('name') ?? [];
  const ids = args.get('id') ?? [];
  const labels = args.get('label') ?? [];
  const scopes = args.get('scope') ?? [];
  return (n) => {
    if (drivers.length > 0 && !drivers.includes(n.rec.Driver)) return false;
    if (names.length > 0 && !goMatch(names, n.name)) return false;
    if (ids.length > 0 && !goMatch(ids, n.id)) return false;
    if (labels.length > 0 && !matchLabels(n.rec.Labels, labels)) return false;
    if (scopes.length > 0 && !scopes.includes(n.rec.Scope)) return false;
    const builtin = isPredefinedName(n.name) || n.predefined;
    // moby: dangling means not predefined and nothing attached (here: no service attached).
    if (danglingOnly === true && (builtin || inUse(n))) return false;
    if (danglingOnly === false && !(builtin || inUse(n))) return false;
    if (types.length > 0 && !types.some((t) => (t === 'builtin') === isPredefinedName(n.name))) return false;
    return true;
  };
}
