// Go text/template's builtin functions (text/template/funcs.go) that matter for Swarm templates: print, printf,
// println, len, index, not, eq, ne, lt, le, gt, ge (and, or are evaluated lazily by exec.ts, as Go does).
// Omitted: html, js, urlquery, call, slice (not defined: a template using them fails to parse, naming them).
import { sprint, sprintf, sprintln } from './fmt.js';
import { GoBytes, GoFloat, GoMap, GoPieces, isTrue, joinPieces, SensitiveDataError, typeName, type Value } from './values.js';

export interface TemplateFunc {
  /** Fixed parameters; with variadic, the minimum. */
  params: number;
  variadic?: boolean;
  /** Every argument must be a string (Go's func(string...) signatures). */
  strings?: boolean;
  /** Go's "error calling NAME: ..." when it throws. */
  call(args: Value[]): Value;
}

export type FuncMap = ReadonlyMap<string, TemplateFunc>;

/** A string argument; plain strings only for sensitive bytes (their text would become a string). */
export function stringArg(v: Value, fn: string): string {
  if (typeof v === 'string') return v;
  if (v instanceof GoBytes && !v.sensitive) return v.data.toString('utf8');
  if (v instanceof GoBytes || v instanceof GoPieces) throw new SensitiveDataError(`secret data as an argument of ${fn} is not supported: runsecrets never turns secret bytes into a string`);
  throw new Error(`wrong type for value; expected string; got ${typeName(v)}`);
}

type Kind = 'bool' | 'int' | 'float' | 'string' | 'bytes' | 'invalid' | 'other';

function kindOf(v: Value): Kind {
  if (v === null) return 'invalid';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'int';
  if (v instanceof GoFloat) return 'float';
  if (typeof v === 'string') return 'string';
  if (v instanceof GoBytes) return 'bytes';
  return 'other';
}

/** Bytes of a string-kind value for comparing, without making a string of secret bytes. */
function bytesOf(v: Value): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return (v as GoBytes).data;
}

const BAD_COMPARISON = 'incompatible types for comparison';
const BAD_TYPE = 'invalid type for comparison';

function eq(args: Value[]): boolean {
  const a = args[0]!;
  if (args.length < 2) throw new Error('missing argument for comparison');
  const ka = kindOf(a);
  for (const b of args.slice(1)) {
    let kb = kindOf(b);
    let k = ka;
    if (k === 'bytes') k = 'string';
    if (kb === 'bytes') kb = 'string';
    if (k !== kb) {
      if (a !== null && b !== null) throw new Error(BAD_COMPARISON);
      continue;
    }
    if (k === 'other') throw new Error(`non-comparable types ${typeName(a)}, ${typeName(b)}`);
    let truth: boolean;
    if (k === 'string') truth = bytesOf(a).equals(bytesOf(b));
    else if (k === 'float') truth = (a as GoFloat).v === (b as GoFloat).v;
    else truth = a === b;
    if (truth) return true;
  }
  return false;
}

function lt(a: Value, b: Value): boolean {
  let ka = kindOf(a);
  let kb = kindOf(b);
  if (ka === 'bytes') ka = 'string';
  if (kb === 'bytes') kb = 'string';
  if (ka === 'bool' || ka === 'other' || ka === 'invalid' || kb === 'bool' || kb === 'other' || kb === 'invalid') throw new Error(BAD_TYPE);
  if (ka !== kb) throw new Error(BAD_COMPARISON);
  if (ka === 'string') return Buffer.compare(bytesOf(a), bytesOf(b)) < 0;
  if (ka === 'float') return (a as GoFloat).v < (b as GoFloat).v;
  return (a as number) < (b as number);
}

function len(v: Value): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (v instanceof GoBytes) return v.data.length;
  if (v instanceof GoPieces) return v.length;
  if (v instanceof GoMap) return v.entries.size;
  if (Array.isArray(v)) return v.length;
  if (v === null) throw new Error('len of nil pointer');
  throw new Error(`len of type ${typeName(v)}`);
}

function index(args: Value[]): Value {
  let item = args[0]!;
  if (item === null) throw new Error('index of untyped nil');
  for (const ix of args.slice(1)) {
    if (item instanceof GoMap) {
      if (typeof ix !== 'string') throw new Error(`value has type ${typeName(ix)}; should be string`);
      // Go's index gives the element type's zero value for a missing key (missingkey applies to fields only).
      item = item.entries.get(ix) ?? '';
    } else if (Array.isArray(item) || typeof item === 'string' || item instanceof GoBytes) {
      if (typeof ix !== 'number') throw new Error(`cannot index slice/array with type ${typeName(ix)}`);
      const n = typeof item === 'string' ? Buffer.byteLength(item) : Array.isArray(item) ? item.length : (item as GoBytes).data.length;
      if (ix < 0 || ix >= n) throw new Error(`index out of range: ${ix}`);
      if (Array.isArray(item)) item = (item as readonly Value[])[ix]!;
      else item = typeof item === 'string' ? Buffer.from(item)[ix]! : (item as GoBytes).data[ix]!;
    } else throw new Error(`can't index item of type ${typeName(item)}`);
  }
  return item;
}

export const BUILTINS: FuncMap = new Map<string, TemplateFunc>([
  ['print', { params: 0, variadic: true, call: (a) => joinPieces(sprint(a)) }],
  ['println', { params: 0, variadic: true, call: (a) => joinPieces(sprintln(a)) }],
  ['printf', { params: 1, variadic: true, call: (a) => joinPieces(sprintf(stringArg(a[0]!, 'printf'), a.slice(1))) }],
  ['len', { params: 1, call: (a) => len(a[0]!) }],
  ['index', { params: 1, variadic: true, call: index }],
  ['not', { params: 1, call: (a) => !isTrue(a[0]!) }],
  ['eq', { params: 1, variadic: true, call: eq }],
  ['ne', { params: 2, call: (a) => !eq(a) }],
  ['lt', { params: 2, call: (a) => lt(a[0]!, a[1]!) }],
  ['le', { params: 2, call: (a) => lt(a[0]!, a[1]!) || eq(a) }],
  ['gt', { params: 2, call: (a) => !lt(a[0]!, a[1]!) && !eq(a) }],
  ['ge', { params: 2, call: (a) => !lt(a[0]!, a[1]!) }],
  // and/or: placeholders for arity and parse-time checks; exec.ts evaluates them lazily.
  ['and', { params: 1, variadic: true, call: (a) => a.find((x) => !isTrue(x)) ?? a[a.length - 1]! }],
  ['or', { params: 1, variadic: true, call: (a) => a.find((x) => isTrue(x)) ?? a[a.length - 1]! }],
]);
