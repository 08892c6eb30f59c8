// The values a template works on, as Go's reflect kinds the Swarm context uses: strings, ints, floats, bools, nil,
// maps of strings (labels), lists, structs (the context), and bytes. Bytes are object data pulled in by `secret` or
// `config`: kept as the cache's Buffer (no copy) and, when sensitive, never turned into a string; Pieces are
// print/printf results that hold such bytes among strings.

export class GoFloat {
  constructor(readonly v: number) {}
}

export class GoBytes {
  constructor(readonly data: Buffer, readonly sensitive: boolean) {}
}

export class GoPieces {
  constructor(readonly parts: ReadonlyArray<string | GoBytes>) {}
  get length(): number {
    let n = 0;
    for (const p of this.parts) n += typeof p === 'string' ? Buffer.byteLength(p) : p.data.length;
    return n;
  }
}

export class GoStruct {
  /** type: Go's name of the type, as errors print it. Fields in declaration order (%v prints them so). */
  constructor(readonly type: string, readonly fields: ReadonlyMap<string, Value>) {}
}

export class GoMap {
  /** type: Go's name, e.g. map[string]string. */
  constructor(readonly type: string, readonly entries: ReadonlyMap<string, Value>) {}
  sortedKeys(): string[] {
    return [...this.entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

export type Value = string | number | boolean | null | GoFloat | GoBytes | GoPieces | GoStruct | GoMap | readonly Value[];

/** Thrown for content a runsecrets template cannot give without turning secret bytes into a string. */
export class SensitiveDataError extends Error {
  override name = 'SensitiveDataError';
}

export function typeName(v: Value): string {
  if (v === null) return '<nil>';
  if (typeof v === 'string' || v instanceof GoBytes || v instanceof GoPieces) return 'string';
  if (typeof v === 'number') return 'int';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof GoFloat) return 'float64';
  if (v instanceof GoStruct || v instanceof GoMap) return v.type;
  return '[]interface {}';
}

/** Go's truth (text/template isTrue): the zero value and empty collections are false. */
export function isTrue(v: Value): boolean {
  if (v === null) return false;
  if (typeof v === 'string') return v !== '';
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (v instanceof GoFloat) return v.v !== 0;
  if (v instanceof GoBytes) return v.data.length > 0;
  if (v instanceof GoPieces) return v.length > 0;
  if (v instanceof GoStruct) return true;
  if (v instanceof GoMap) return v.entries.size > 0;
  return v.length > 0;
}

/** Bytes as a string, for data that is not secret (a config's); sensitive data refuses, naming what asked. */
export function plainString(b: GoBytes, what: string): string {
  if (b.sensitive) throw new SensitiveDataError(`${what} of secret data is not supported: runsecrets never turns secret bytes into a string`);
  return b.data.toString('utf8');
}

/** Go's %g-ish float form as fmt's %v prints float64 (strconv 'g' with the shortest representation). */
export function formatFloat(f: number): string {
  if (Number.isInteger(f) && Math.abs(f) < 1e21) return String(f);
  const exp = Math.floor(Math.log10(Math.abs(f)));
  if (exp < -4 || exp >= 21) {
    const [m, e] = f.toExponential().split('e') as [string, string];
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(f);
}

/**
 * fmt's %v of a value as pieces (strings and bytes): strings and bytes as they are, maps as map[k:v ...] with
 * sorted keys, structs as {v1 v2}, lists as [a b], nil as <nil>.
 */
export function formatV(v: Value, out: Array<string | GoBytes>): void {
  if (v === null) out.push('<nil>');
  else if (typeof v === 'string') out.push(v);
  else if (typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
  else if (v instanceof GoFloat) out.push(formatFloat(v.v));
  else if (v instanceof GoBytes) out.push(v);
  else if (v instanceof GoPieces) out.push(...v.parts);
  else if (v instanceof GoStruct) {
    out.push('{');
    let first = true;
    for (const f of v.fields.values()) {
      if (!first) out.push(' ');
      first = false;
      formatV(f, out);
    }
    out.push('}');
  } else if (v instanceof GoMap) {
    out.push('map[');
    v.sortedKeys().forEach((k, i) => {
      out.push(i === 0 ? `${k}:` : ` ${k}:`);
      formatV(v.entries.get(k)!, out);
    });
    out.push(']');
  } else {
    out.push('[');
    v.forEach((x, i) => {
      if (i > 0) out.push(' ');
      formatV(x, out);
    });
    out.push(']');
  }
}

/** Pieces as one value: a string when no sensitive bytes are among them, else GoPieces (the bytes stay Buffers). */
export function joinPieces(parts: Array<string | GoBytes>): Value {
  if (parts.some((p) => p instanceof GoBytes && p.sensitive)) return new GoPieces(parts);
  return parts.map((p) => (typeof p === 'string' ? p : p.data.toString('utf8'))).join('');
}
