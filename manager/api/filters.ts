// Docker's `filters` query parameter (moby api/types/filters): JSON {"key":{"value":true}} or the legacy
// {"key":["value"]}. Unknown keys are refused with moby's text.
import { ApiError, jsonSyntaxError } from './http.js';

export type FilterArgs = Map<string, string[]>;

export function parseFilters(raw: string | null): FilterArgs {
  const out: FilterArgs = new Map();
  if (raw === null || raw === '') return out;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new ApiError(400, `invalid filter: the filters parameter is not valid JSON: ${jsonSyntaxError(err)}`);
  }
  if (v === null) return out;
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new ApiError(400, 'invalid filter: the filters parameter must be a JSON object of value sets');
  }
  for (const [key, vals] of Object.entries(v as Record<string, unknown>)) {
    let list: unknown[];
    if (Array.isArray(vals)) list = vals;
    else if (vals !== null && typeof vals === 'object') list = Object.keys(vals);
    else throw new ApiError(400, `invalid filter: values of filter '${key}' must be a list or a set of strings`);
    if (!list.every((x) => typeof x === 'string')) {
      throw new ApiError(400, `invalid filter: values of filter '${key}' must be strings`);
    }
    out.set(key, list as string[]);
  }
  return out;
}

export function validateFilters(args: FilterArgs, accepted: readonly string[]): void {
  for (const key of args.keys()) if (!accepted.includes(key)) throw new ApiError(400, `invalid filter '${key}'`);
}

/** swarmkit's filterMatchLabels: every `key` must be present; a `key=value` must match exactly. */
export function matchLabels(labels: Record<string, string> | null, wanted: string[]): boolean {
  for (const w of wanted) {
    const i = w.indexOf('=');
    const key = i < 0 ? w : w.slice(0, i);
    if (!labels || !Object.prototype.hasOwnProperty.call(labels, key)) return false;
    if (i >= 0 && labels[key] !== w.slice(i + 1)) return false;
  }
  return true;
}
