// Go's encoding/json for the typed values moby decodes request bodies into, as small composable codecs: decoding
// matches keys exactly first, then case-insensitively (at every depth), drops unknown keys, lets JSON null leave a
// value unset (nil for pointers, slices and maps), and fails with Go's UnmarshalTypeError text; encoding applies
// `omitempty` as Go does (false, 0, "", nil, empty slice or map; never a struct). The TypeScript type of a decoded
// value follows from its codec, so a body is parsed into a typed value, not checked and cast.

/** Go's error text; moby answers it as 400 "invalid JSON: <text>". */
export class GoJsonError extends Error {
  override name = 'GoJsonError';
}

/** Where a value sits, as Go's decoder reports it: the innermost struct's name and the stack of field names. */
interface At {
  struct: string | null;
  fields: string[];
}

export interface Codec<V> {
  readonly goType: string;
  /** JSON null sets the zero value (pointers, slices, maps); for other types null leaves the value as it was. */
  readonly nilable: boolean;
  decode(v: unknown, at: At): V;
  zero(): V;
  isEmpty(v: V): boolean;
  encode(v: V): unknown;
}
export type Infer<C> = C extends Codec<infer V> ? V : never;

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'object') return 'object';
  return typeof v; // string, number
}

function typeError(what: string, goType: string, at: At): GoJsonError {
  const where = at.struct !== null ? `Go struct field ${at.struct}.${at.fields.join('.')}` : 'Go value';
  return new GoJsonError(`json: cannot unmarshal ${what} into ${where} of type ${goType}`);
}

export function str(goType = 'string'): Codec<string> {
  return {
    goType,
    nilable: false,
    decode(v, at) {
      if (typeof v !== 'string') throw typeError(jsonKind(v), goType, at);
      return v;
    },
    zero: () => '',
    isEmpty: (v) => v === '',
    encode: (v) => v,
  };
}

export function bool(): Codec<boolean> {
  return {
    goType: 'bool',
    nilable: false,
    decode(v, at) {
      if (typeof v !== 'boolean') throw typeError(jsonKind(v), 'bool', at);
      return v;
    },
    zero: () => false,
    isEmpty: (v) => !v,
    encode: (v) => v,
  };
}

const INT_RANGE: Record<string, [number, number]> = {
  int: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
  uint32: [0, 0xffffffff],
};

/** An integer type; `kind` is its Go kind (int, int64, uint64, uint32), goType its name (time.Duration, fs.FileMode). */
export function int(kind: 'int' | 'int64' | 'uint64' | 'uint32', goType: string = kind): Codec<number> {
  const [min, max] = INT_RANGE[kind]!;
  return {
    goType,
    nilable: false,
    decode(v, at) {
      if (typeof v !== 'number') throw typeError(jsonKind(v), goType, at);
      if (!Number.isInteger(v) || v < min || v > max) throw typeError(`number ${String(v)}`, goType, at);
      return v;
    },
    zero: () => 0,
    isEmpty: (v) => v === 0,
    encode: (v) => v,
  };
}

export function float(goType = 'float32'): Codec<number> {
  return {
    goType,
    nilable: false,
    decode(v, at) {
      if (typeof v !== 'number') throw typeError(jsonKind(v), goType, at);
      return v;
    },
    zero: () => 0,
    isEmpty: (v) => v === 0,
    encode: (v) => v,
  };
}

/** time.Duration: int64 nanoseconds. */
export const duration = (): Codec<number> => int('int64', 'time.Duration');

/** A pointer: null when nil. */
export function ptr<V>(c: Codec<V>): Codec<V | null> {
  return {
    goType: c.goType, // Go names the pointed-to type in its errors
    nilable: true,
    decode: (v, at) => c.decode(v, at),
    zero: () => null,
    isEmpty: (v) => v === null,
    encode: (v) => (v === null ? null : c.encode(v)),
  };
}

/** A slice: null when nil. */
export function list<V>(c: Codec<V>, goType = `[]${c.goType}`): Codec<V[] | null> {
  return {
    goType,
    nilable: true,
    decode(v, at) {
      if (!Array.isArray(v)) throw typeError(jsonKind(v), goType, at);
      return v.map((x) => (x === null || x === undefined ? c.zero() : c.decode(x, at)));
    },
    zero: () => null,
    isEmpty: (v) => v === null || v.length === 0,
    encode: (v) => (v === null ? null : v.map((x) => c.encode(x))),
  };
}

/** map[string]V: null when nil; a null value is V's zero value. */
export function map<V>(c: Codec<V>, goType = `map[string]${c.goType}`): Codec<Record<string, V> | null> {
  return {
    goType,
    nilable: true,
    decode(v, at) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw typeError(jsonKind(v), goType, at);
      const out: Record<string, V> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = x === null ? c.zero() : c.decode(x, at);
      return out;
    },
    zero: () => null,
    isEmpty: (v) => v === null || Object.keys(v).length === 0,
    encode(v) {
      if (v === null) return null;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) out[k] = c.encode(v[k]!); // Go sorts map keys
      return out;
    },
  };
}

/** []byte: standard base64 with padding. */
export function bytes(): Codec<Buffer | null> {
  return {
    goType: '[]uint8',
    nilable: true,
    decode(v, at) {
      if (typeof v !== 'string') throw typeError(jsonKind(v), '[]uint8', at);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) throw new GoJsonError('illegal base64 data at input byte 0');
      return Buffer.from(v, 'base64');
    },
    zero: () => null,
    isEmpty: (v) => v === null || v.length === 0,
    encode: (v) => (v === null ? null : v.toString('base64')),
  };
}

interface FieldDef<V> {
  codec: Codec<V>;
  omitempty: boolean;
}
/** A struct field: `f(codec)` always encoded, `f(codec, true)` with `json:",omitempty"`. */
export function f<V>(codec: Codec<V>, omitempty = false): FieldDef<V> {
  return { codec, omitempty };
}

type Fields = Record<string, FieldDef<unknown>>;
export type StructOf<F extends Fields> = { [K in keyof F]: F[K] extends FieldDef<infer V> ? V : never };

/** A struct with the given fields (in Go's declaration order, which is the encoding order). `name` is Go's
 * package-qualified type name, e.g. swarm.TaskSpec. */
export function struct<F extends Fields>(name: string, fields: F): Codec<StructOf<F>> {
  const keys = Object.keys(fields);
  const folded = new Map<string, string>();
  for (const k of keys) if (!folded.has(k.toLowerCase())) folded.set(k.toLowerCase(), k);
  const shortName = name.slice(name.lastIndexOf('.') + 1);
  const zero = (): StructOf<F> => {
    const o: Record<string, unknown> = {};
    for (const k of keys) o[k] = fields[k]!.codec.zero();
    return o as StructOf<F>;
  };
  return {
    goType: name,
    nilable: false,
    decode(v, at) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw typeError(jsonKind(v), name, at);
      const out = zero() as Record<string, unknown>;
      for (const [jk, jv] of Object.entries(v as Record<string, unknown>)) {
        // Go: the exact name first, then a case-insensitive match; keys matching no field are dropped.
        const k = Object.prototype.hasOwnProperty.call(fields, jk) ? jk : folded.get(jk.toLowerCase());
        if (k === undefined) continue;
        const def = fields[k]!;
        if (jv === null) {
          if (def.codec.nilable) out[k] = def.codec.zero();
          continue;
        }
        out[k] = def.codec.decode(jv, { struct: shortName, fields: [...at.fields, k] });
      }
      return out as StructOf<F>;
    },
    zero,
    isEmpty: () => false,
    encode(v) {
      const out: Record<string, unknown> = {};
      const o = v as Record<string, unknown>;
      for (const k of keys) {
        const def = fields[k]!;
        const x = o[k] === undefined ? def.codec.zero() : o[k];
        if (def.omitempty && def.codec.isEmpty(x)) continue;
        out[k] = def.codec.encode(x);
      }
      return out;
    },
  };
}

/** A value moby accepts but runsecrets drops on decoding (no field keeps it). */
export function ignored(goType: string): Codec<null> {
  return { goType, nilable: true, decode: () => null, zero: () => null, isEmpty: () => true, encode: () => null };
}

/** Decodes a whole request body into a value of the codec's type (Go's json.Unmarshal into a fresh value). */
export function decodeBody<V>(c: Codec<V>, body: unknown): V {
  if (body === null || body === undefined) return c.zero();
  return c.decode(body, { struct: null, fields: [] });
}
