// A small model of Go values, enough for docker's templates to behave as in Go: typed structs (unknown fields are
// errors, embedded structs promote their fields, methods can take arguments), maps (missing keys are "<no value>"),
// json.Number, []byte, time.Time; plus fmt's %v printing, template truth and encoding/json marshalling.
import { GoTime } from './go-time.js';

export type GoValue =
  | string
  | number
  | boolean
  | null // a nil interface, pointer or slice
  | undefined // "no value": a missing map key
  | JsonNumber
  | Uint8Array
  | GoTime
  | GoMap
  | GoStruct
  | GoValue[];

/** A number kept in its JSON spelling (json.Decoder.UseNumber), printed as written. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export type GoMethod = (...args: GoValue[]) => GoValue;

export class GoMap {
  constructor(
    readonly entries: Map<string, GoValue>,
    readonly typeName = 'map[string]string',
    /** A nil map: prints "map[]", marshals as null. */
    readonly isNil = false,
    readonly methods: Record<string, GoMethod> = {},
  ) {}

  static fromRecord(rec: Record<string, string> | null | undefined, typeName = 'map[string]string'): GoMap {
    if (rec === null || rec === undefined) return new GoMap(new Map(), typeName, true);
    return new GoMap(new Map(Object.entries(rec)), typeName);
  }

  sortedKeys(): string[] {
    return [...this.entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

export interface GoField {
  name: string;
  value: GoValue;
  omitempty?: boolean;
  /** An embedded struct: its fields are promoted, and JSON inlines them. */
  embedded?: boolean;
}

export class GoStruct {
  constructor(
    readonly typeName: string,
    readonly fields: GoField[],
    readonly methods: Record<string, GoMethod> = {},
    /** A MarshalJSON method: what encoding/json writes instead of the fields. */
    readonly marshalJSON?: () => GoValue,
  ) {}

  /** Field or promoted field by exact name. */
  field(name: string): { found: boolean; value?: GoValue } {
    for (const f of this.fields) if (f.name === name) return { found: true, value: f.value };
    for (const f of this.fields) {
      if (f.embedded && f.value instanceof GoStruct) {
        const r = f.value.field(name);
        if (r.found) return r;
      }
    }
    return { found: false };
  }

  method(name: string): GoMethod | undefined {
    if (Object.prototype.hasOwnProperty.call(this.methods, name)) return this.methods[name];
    for (const f of this.fields) {
      if (f.embedded && f.value instanceof GoStruct) {
        const m = f.value.method(name);
        if (m) return m;
      }
    }
    return undefined;
  }
}

/** Type name as Go's template errors print it. */
export function goTypeName(v: GoValue): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (v === null || v === undefined) return 'interface {}';
  if (v instanceof JsonNumber) return 'json.Number';
  if (v instanceof Uint8Array) return '[]uint8';
  if (v instanceof GoTime) return 'time.Time';
  if (v instanceof GoMap) return v.typeName;
  if (v instanceof GoStruct) return v.typeName;
  return '[]interface {}';
}

/** Go template truth: false, 0, nil and empty strings, slices and maps are false; structs are true. */
export function goTruthy(v: GoValue): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (v instanceof JsonNumber) return v.text.length > 0;
  if (v instanceof Uint8Array) return v.length > 0;
  if (v instanceof GoMap) return v.entries.size > 0;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  // Go's %v of a float64 is %g: a two-digit exponent at least ("1e-07" where JS writes "1e-7").
  return String(n).replace(/e([+-])(\d)$/, 'e$10$2');
}

/** fmt.Sprint(v) (the %v verb), as a template action prints a value. */
export function goSprint(v: GoValue, nested = false): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof JsonNumber) return v.text;
  if (v instanceof Uint8Array) return `[${[...v].join(' ')}]`;
  if (v instanceof GoTime) return v.toGoString();
  if (v instanceof GoMap) return `map[${v.sortedKeys().map((k) => `${k}:${goSprint(v.entries.get(k), true)}`).join(' ')}]`;
  if (v instanceof GoStruct) {
    const str = v.method('String');
    if (str) return goSprint(str(), nested);
    return `{${v.fields.map((f) => goSprint(f.value, true)).join(' ')}}`;
  }
  return `[${v.map((x) => goSprint(x, true)).join(' ')}]`;
}

function isEmptyForOmit(v: GoValue): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === 'string') return v === '';
  if (typeof v === 'number') return v === 0;
  if (typeof v === 'boolean') return !v;
  if (v instanceof Uint8Array) return v.length === 0;
  if (v instanceof GoMap) return v.entries.size === 0;
  if (Array.isArray(v)) return v.length === 0;
  return false; // structs (time.Time included) are never empty for omitempty
}

// encoding/json string escaping with SetEscapeHTML(false) (docker's `json` template function).
function jsonString(s: string, escapeHTML: boolean): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c === 0x2028 || c === 0x2029 || (escapeHTML && (ch === '<' || ch === '>' || ch === '&')))
      out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

function structFieldsJSON(s: GoStruct, escapeHTML: boolean, out: string[]): void {
  for (const f of s.fields) {
    if (f.embedded && f.value instanceof GoStruct) {
      structFieldsJSON(f.value, escapeHTML, out);
      continue;
    }
    if (f.omitempty && isEmptyForOmit(f.value)) continue;
    out.push(`${jsonString(f.name, escapeHTML)}:${goMarshalJSON(f.value, escapeHTML)}`);
  }
}

/** json.Marshal(v) (compact; map keys sorted). */
export function goMarshalJSON(v: GoValue, escapeHTML = false): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return jsonString(v, escapeHTML);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof JsonNumber) return v.text;
  if (v instanceof Uint8Array) return `"${Buffer.from(v).toString('base64')}"`;
  if (v instanceof GoTime) return `"${v.toRFC3339Nano()}"`;
  if (v instanceof GoMap) {
    if (v.isNil) return 'null';
    return `{${v.sortedKeys().map((k) => `${jsonString(k, escapeHTML)}:${goMarshalJSON(v.entries.get(k), escapeHTML)}`).join(',')}}`;
  }
  if (v instanceof GoStruct) {
    // docker's MarshalJSON methods use json.Marshal, which always escapes <, > and &.
    if (v.marshalJSON) return goMarshalJSON(v.marshalJSON(), true);
    const parts: string[] = [];
    structFieldsJSON(v, escapeHTML, parts);
    return `{${parts.join(',')}}`;
  }
  return `[${v.map((x) => goMarshalJSON(x, escapeHTML)).join(',')}]`;
}

/** Raw JSON decoded as Go decodes into interface{} with UseNumber (the inspect fallback's view). */
export function fromRawJSON(v: unknown, numberText?: (n: number) => string): GoValue {
  if (v === null) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return new JsonNumber(numberText ? numberText(v) : String(v));
  if (Array.isArray(v)) return v.map((x) => fromRawJSON(x, numberText));
  if (typeof v === 'object') {
    const m = new Map<string, GoValue>();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) m.set(k, fromRawJSON(x, numberText));
    return new GoMap(m, 'map[string]interface {}');
  }
  return null;
}
