// Decoding request bodies the way Go's encoding/json decodes them into moby's types, with the same error texts
// (moby wraps them as "invalid JSON: ..."): field names match case-insensitively, null leaves a field unset,
// []byte fields are standard base64, and a wrong JSON type is named.
import { ApiError } from './http.js';

export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string, number, object
}

function typeError(v: unknown, field: string, goType: string): ApiError {
  return new ApiError(400, `invalid JSON: json: cannot unmarshal ${jsonTypeName(v)} into Go struct field ${field} of type ${goType}`);
}

/** Looks a field up as Go does: exact name first, then case-insensitively. */
export function field(obj: Record<string, unknown>, name: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

export function decodeObject(v: unknown, goType: string): Record<string, unknown> | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new ApiError(400, `invalid JSON: json: cannot unmarshal ${jsonTypeName(v)} into Go value of type ${goType}`);
  }
  return v as Record<string, unknown>;
}

export function decodeString(v: unknown, fieldPath: string): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'string') throw typeError(v, fieldPath, 'string');
  return v;
}

export function decodeStringMap(v: unknown, fieldPath: string): Record<string, string> | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw typeError(v, fieldPath, 'map[string]string');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val === null) {
      out[k] = '';
      continue;
    }
    if (typeof val !== 'string') throw typeError(val, fieldPath, 'string');
    out[k] = val;
  }
  return out;
}

/** Go's base64.StdEncoding as encoding/json uses it for []byte: padding required, CR and LF skipped. */
export function decodeBase64(v: unknown, fieldPath: string): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw typeError(v, fieldPath, '[]uint8');
  const s = v.replace(/[\r\n]/g, '');
  const bad = (i: number): ApiError => new ApiError(400, `invalid JSON: illegal base64 data at input byte ${i}`);
  const m = /[^A-Za-z0-9+/=]/.exec(s);
  if (m) throw bad(m.index);
  const pad = s.indexOf('=');
  if (pad >= 0) {
    // padding only at the very end, at most two, completing a 4-character quantum
    if (!/^={1,2}$/.test(s.slice(pad)) || s.length % 4 !== 0) throw bad(pad);
  } else if (s.length % 4 !== 0) {
    throw bad(s.length - (s.length % 4));
  }
  const buf = Buffer.from(s, 'base64');
  // Go rejects non-canonical trailing bits too; re-encoding must give the same text
  if (buf.toString('base64') !== s) throw bad(Math.max(0, s.length - 1));
  return buf;
}

export interface DriverSpec {
  Name: string;
  Options?: Record<string, string> | null;
}

export function decodeDriver(v: unknown, fieldPath: string): DriverSpec | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw typeError(v, fieldPath, 'swarm.Driver');
  const o = v as Record<string, unknown>;
  const d: DriverSpec = { Name: decodeString(field(o, 'Name'), 'Driver.Name') ?? '' };
  const opts = decodeStringMap(field(o, 'Options'), 'Driver.Options');
  if (opts) d.Options = opts;
  return d;
}
