// The functions templates can call: Go's builtins (and, or, not, len, index, print*, comparisons) and docker's
// (json, split, join, title, lower, upper, pad, truncate), plus docker's header variants that keep column names.
import { GoMap, JsonNumber, goMarshalJSON, goSprint, goTruthy, goTypeName, type GoValue } from './go-values.js';
import { TemplateError } from './template-lex.js';
import { goQuote } from './go-quote.js';
import type { FuncTable } from './template-parse.js';

export const VARIADIC = new Set(['print', 'printf', 'println', 'eq', 'index', 'and', 'or']);

function goString(v: GoValue): string {
  if (typeof v === 'string') return v;
  throw new TemplateError(`wrong type for value; expected string; got ${goTypeName(v)}`);
}

function goLen(v: GoValue): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (v instanceof Uint8Array || Array.isArray(v)) return v.length;
  if (v instanceof GoMap) return v.entries.size;
  throw new TemplateError(`len of type ${goTypeName(v)}`);
}

function basicEq(a: GoValue, b: GoValue): boolean {
  const norm = (x: GoValue): GoValue => (x instanceof JsonNumber ? x.text : x);
  return norm(a) === norm(b);
}

function compare(a: GoValue, b: GoValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateError('incompatible types for comparison');
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
function sprint(vals: GoValue[]): string {
  let out = '';
  vals.forEach((v, i) => {
    if (i > 0 && typeof v !== 'string' && typeof vals[i - 1] !== 'string') out += ' ';
    out += goSprint(v);
  });
  return out;
}

/** fmt.Sprintf for the verbs templates use: %s %v %d %q %t %%, with width and '-' flag. */
function sprintf(format: string, args: GoValue[]): string {
  let ai = 0;
  return format.replace(/%([-+ #0]*)(\d*)(?:\.(\d+))?([svdqtx%])/g, (_m, flags: string, width: string, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (ai >= args.length) return `%!${verb}(MISSING)`;
    const a = args[ai++];
    let s: string;
    // %s and %q print a []byte as its text.
    const text = (v: GoValue): string => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : goSprint(v));
    if (verb === 'q') s = goQuote(text(a));
    else if (verb === 's') s = text(a);
    else if (verb === 'x') s = typeof a === 'number' ? a.toString(16) : Buffer.from(goSprint(a)).toString('hex');
    else s = goSprint(a);
    if (prec !== undefined && (verb === 's' || verb === 'v')) s = s.slice(0, Number(prec));
    const w = Number(width || 0);
    if (s.length < w) s = flags.includes('-') ? s.padEnd(w) : s.padStart(w, flags.includes('0') && verb === 'd' ? '0' : ' ');
    return s;
  });
}

export const BUILTIN_FUNCS: FuncTable = {
  not: (v: GoValue) => !goTruthy(v),
  len: (v: GoValue) => goLen(v),
  index: (...vals: GoValue[]) => {
    let v = vals[0];
    for (const k of vals.slice(1)) {
      if (v instanceof GoMap) v = v.entries.has(goSprint(k)) ? v.entries.get(goSprint(k)) : undefined;
      else if (Array.isArray(v) && typeof k === 'number') {
        if (k < 0 || k >= v.length) throw new TemplateError(`error calling index: index out of range: ${k}`);
        v = v[k];
      } else throw new TemplateError(`can't index item of type ${goTypeName(v)}`);
    }
    return v;
  },
  print: (...vals: GoValue[]) => sprint(vals),
  println: (...vals: GoValue[]) => vals.map((v) => goSprint(v)).join(' ') + '\n',
  printf: (...vals: GoValue[]) => sprintf(goString(vals[0]), vals.slice(1)),
  eq: (...vals: GoValue[]) => vals.slice(1).some((v) => basicEq(vals[0], v)),
  ne: (a: GoValue, b: GoValue) => !basicEq(a, b),
  lt: (a: GoValue, b: GoValue) => compare(a, b) < 0,
  le: (a: GoValue, b: GoValue) => compare(a, b) <= 0,
  gt: (a: GoValue, b: GoValue) => compare(a, b) > 0,
  ge: (a: GoValue, b: GoValue) => compare(a, b) >= 0,
};

/** docker's templates.basicFunctions. */
export const DOCKER_FUNCS: FuncTable = {
  json: (v: GoValue) => goMarshalJSON(v, false),
  split: (s: GoValue, sep: GoValue) => goString(s).split(goString(sep)),
  join: (list: GoValue, sep: GoValue) => {
    if (!Array.isArray(list)) throw new TemplateError(`wrong type for value; expected []string; got ${goTypeName(list)}`);
    return list.map((x) => goString(x)).join(goString(sep));
  },
  title: (s: GoValue) => goString(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  lower: (s: GoValue) => goString(s).toLowerCase(),
  upper: (s: GoValue) => goString(s).toUpperCase(),
  pad: (s: GoValue, prefix: GoValue, suffix: GoValue) => {
    const str = goString(s);
    return str === '' ? str : ' '.repeat(Number(prefix)) + str + ' '.repeat(Number(suffix));
  },
  truncate: (s: GoValue, n: GoValue) => {
    const b = Buffer.from(goString(s));
    return b.length < Number(n) ? goString(s) : b.subarray(0, Number(n)).toString();
  },
};

/** docker's templates.HeaderFunctions: the header row keeps column names intact. */
export const HEADER_FUNCS: FuncTable = {
  ...DOCKER_FUNCS,
  json: (v: GoValue) => goString(v),
  split: (v: GoValue, _s: GoValue) => goString(v),
  join: (v: GoValue, _s: GoValue) => goString(v),
  title: (v: GoValue) => goString(v),
  lower: (v: GoValue) => goString(v),
  upper: (v: GoValue) => goString(v),
  truncate: (v: GoValue, _n: GoValue) => goString(v),
};
