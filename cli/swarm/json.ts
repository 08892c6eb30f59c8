// Reading the daemon's JSON the way encoding/json fills Go structs: keys matched exactly, then case-insensitively;
// a wrong type reads as the zero value.
export type Json = Record<string, unknown>;

export function get(obj: unknown, ...path: string[]): unknown {
  let cur: unknown = obj;
  for (const name of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    const rec = cur as Json;
    if (Object.prototype.hasOwnProperty.call(rec, name)) {
      cur = rec[name];
      continue;
    }
    const lower = name.toLowerCase();
    const key = Object.keys(rec).find((k) => k.toLowerCase() === lower);
    cur = key === undefined ? undefined : rec[key];
  }
  return cur;
}

export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
export const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
export const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
export const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The object at key, created (as {}) when it is missing or not an object. */
export function child(obj: Json, key: string): Json {
  const v = obj[key];
  if (isObj(v)) return v;
  const fresh: Json = {};
  obj[key] = fresh;
  return fresh;
}
