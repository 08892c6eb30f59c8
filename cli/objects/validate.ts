// docker's client-side flag checks for labels (opts.ValidateLabel) and filters (opts.FilterOpt.Set).
import type { Filters } from '../client/objects.js';

const WHITESPACE = /[ \t]/;

/** Returns docker's error text for a bad --label value, or null. */
export function labelError(value: string): string | null {
  const eq = value.indexOf('=');
  const key = (eq < 0 ? value : value.slice(0, eq)).replace(/^[ \t]+/, '');
  if (key === '') return `invalid label '${value}': empty name`;
  if (WHITESPACE.test(key)) return `label '${key}' contains whitespaces`;
  return null;
}

/** opts.ConvertKVStringsToMap: "k=v" -> {k: v}, "k" -> {k: ""}; later values win. */
export function labelsToMap(values: string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq < 0) out[v] = '';
    else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return { ...out };
}

export const BAD_FILTER = 'bad format of filter (expected name=value)';

/** Adds one --filter value as docker does (key lower-cased and trimmed); returns an error text or null. */
export function addFilter(filters: Filters, value: string): string | null {
  if (value === '') return null;
  const eq = value.indexOf('=');
  if (eq < 0) return BAD_FILTER;
  const name = value.slice(0, eq).trim().toLowerCase();
  const val = value.slice(eq + 1).trim();
  if (!filters.has(name)) filters.set(name, new Set());
  filters.get(name)!.add(val);
  return null;
}
