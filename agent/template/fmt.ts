// Go's fmt.Sprint, Sprintln and Sprintf for template values, producing pieces (strings and bytes) so that secret
// bytes given to print/printf with %s or %v stay Buffers. Verbs: %v %s %d %q %x %X %t %f %e %g %c %%, flags
// '-' '+' '0' ' ', width and precision. A sensitive value with a verb that would need its text (%q, %x, a
// precision) is an error (SensitiveDataError), not a leak.
import { quote } from './quote.js';
import { GoBytes, GoFloat, GoPieces, GoMap, GoStruct, SensitiveDataError, formatFloat, formatV, typeName, type Value } from './values.js';

type Parts = Array<string | GoBytes>;

const isStringy = (v: Value): boolean => typeof v === 'string' || v instanceof GoBytes || v instanceof GoPieces;

/** fmt.Sprint: operands' %v; a space between two operands when neither is a string. */
export function sprint(args: readonly Value[]): Parts {
  const out: Parts = [];
  args.forEach((a, i) => {
    if (i > 0 && !isStringy(a) && !isStringy(args[i - 1]!)) out.push(' ');
    formatV(a, out);
  });
  return out;
}

/** fmt.Sprintln: always a space between operands, and a newline. */
export function sprintln(args: readonly Value[]): Parts {
  const out: Parts = [];
  args.forEach((a, i) => {
    if (i > 0) out.push(' ');
    formatV(a, out);
  });
  out.push('\n');
  return out;
}

interface Spec {
  minus: boolean;
  plus: boolean;
  zero: boolean;
  space: boolean;
  width: number | null;
  prec: number | null;
  verb: string;
}

/** The number of characters (runes) of pieces, without making strings of bytes. */
function runeCount(parts: Parts): number {
  let n = 0;
  for (const p of parts) {
    if (typeof p === 'string') n += [...p].length;
    else for (const b of p.data) if ((b & 0xc0) !== 0x80) n++;
  }
  return n;
}

function pad(parts: Parts, s: Spec, numeric: boolean): Parts {
  if (s.width === null) return parts;
  const n = s.width - runeCount(parts);
  if (n <= 0) return parts;
  if (s.minus) return [...parts, ' '.repeat(n)];
  if (s.zero && numeric && parts.length === 1 && typeof parts[0] === 'string') {
    const str = parts[0];
    const sign = /^[+-]/.test(str) ? str[0]! : '';
    return [sign + '0'.repeat(n) + str.slice(sign.length)];
  }
  return [' '.repeat(n), ...parts];
}

/** Go's %!verb(type=value) for a verb the operand does not take. */
function bad(s: Spec, v: Value): Parts {
  if (v === null) return [`%!${s.verb}(<nil>)`];
  if (v instanceof GoBytes || v instanceof GoPieces) {
    if (v instanceof GoPieces || v.sensitive) throw new SensitiveDataError(`%${s.verb} of secret data is not supported: runsecrets never turns secret bytes into a string`);
  }
  const parts: Parts = [];
  formatV(v, parts);
  return [`%!${s.verb}(${typeName(v)}=`, ...parts, ')'];
}

function textOf(v: GoBytes | GoPieces | string, s: Spec): string {
  if (typeof v === 'string') return v;
  if (v instanceof GoPieces || v.sensitive) throw new SensitiveDataError(`%${s.verb} of secret data is not supported: runsecrets never turns secret bytes into a string`);
  return v.data.toString('utf8');
}

function fmtInt(n: number, s: Spec): string {
  const sign = n < 0 ? '-' : s.plus ? '+' : s.space ? ' ' : '';
  const a = Math.abs(n);
  switch (s.verb) {
    case 'x':
      return sign + a.toString(16);
    case 'X':
      return sign + a.toString(16).toUpperCase();
    case 'o':
      return sign + a.toString(8);
    case 'b':
      return sign + a.toString(2);
    default:
      return sign + String(a);
  }
}

function fmtFloat(f: number, s: Spec): string {
  const sign = f < 0 || Object.is(f, -0) ? '-' : s.plus ? '+' : s.space ? ' ' : '';
  const a = Math.abs(f);
  switch (s.verb) {
    case 'f':
    case 'F':
      return sign + a.toFixed(s.prec ?? 6);
    case 'e':
    case 'E': {
      const [m, e] = a.toExponential(s.prec ?? 6).split('e') as [string, string];
      const n = Number(e);
      const r = `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
      return sign + (s.verb === 'E' ? r.toUpperCase() : r);
    }
    default:
      return sign + (s.prec === null ? formatFloat(a) : Number(a.toPrecision(Math.max(1, s.prec))).toString());
  }
}

function formatOne(v: Value, s: Spec): Parts {
  const verb = s.verb;
  if (typeof v === 'string' || v instanceof GoBytes || v instanceof GoPieces) {
    if (verb === 'v' || verb === 's') {
      if (s.prec !== null) return pad([[...textOf(v, s)].slice(0, s.prec).join('')], s, false);
      return pad(typeof v === 'string' ? [v] : v instanceof GoBytes ? [v] : [...v.parts], s, false);
    }
    if (verb === 'q') return pad([quote(textOf(v, s))], s, false);
    if (verb === 'x' || verb === 'X') {
      const hex = Buffer.from(textOf(v, s), 'utf8').toString('hex');
      return pad([verb === 'X' ? hex.toUpperCase() : hex], s, false);
    }
    return bad(s, v);
  }
  if (typeof v === 'number') {
    if ('vdxXob'.includes(verb)) return pad([fmtInt(v, s)], s, true);
    if (verb === 'c') return pad([String.fromCodePoint(v)], s, false);
    if (verb === 'q') return pad([`'${String.fromCodePoint(v)}'`], s, false);
    return bad(s, v);
  }
  if (v instanceof GoFloat) {
    if ('vfFeEgG'.includes(verb)) return pad([fmtFloat(v.v, s)], s, true);
    return bad(s, v);
  }
  if (typeof v === 'boolean') {
    if (verb === 'v' || verb === 't') return pad([String(v)], s, false);
    return bad(s, v);
  }
  if (v === null) {
    if (verb === 'v') return pad(['<nil>'], s, false);
    return bad(s, v);
  }
  if (v instanceof GoStruct || v instanceof GoMap || Array.isArray(v)) {
    // Go formats each element with the verb; %v and %s of the Swarm context's strings print the same.
    const parts: Parts = [];
    formatV(v, parts);
    return pad(parts, s, false);
  }
  return bad(s, v);
}

/** fmt.Sprintf, with Go's in-line reports (%!v(MISSING), %!(EXTRA ...), %!(NOVERB)). */
export function sprintf(format: string, args: readonly Value[]): Parts {
  const out: Parts = [];
  let argi = 0;
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out.push(format.slice(i));
      break;
    }
    if (pct > i) out.push(format.slice(i, pct));
    i = pct + 1;
    const s: Spec = { minus: false, plus: false, zero: false, space: false, width: null, prec: null, verb: '' };
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === '-') s.minus = true;
      else if (c === '+') s.plus = true;
      else if (c === '0') s.zero = !s.minus;
      else if (c === ' ') s.space = true;
      else if (c === '#') continue;
      else break;
    }
    const w = /^\d+/.exec(format.slice(i));
    if (w) {
      s.width = Number(w[0]);
      i += w[0].length;
    }
    if (format[i] === '.') {
      i++;
      const p = /^\d+/.exec(format.slice(i));
      s.prec = p ? Number(p[0]) : 0;
      if (p) i += p[0].length;
    }
    if (i >= format.length) {
      out.push('%!(NOVERB)');
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    s.verb = verb;
    if (verb === '%') {
      out.push('%');
      continue;
    }
    if (argi >= args.length) {
      out.push(`%!${verb}(MISSING)`);
      continue;
    }
    out.push(...formatOne(args[argi++]!, s));
  }
  if (argi < args.length) {
    out.push('%!(EXTRA ');
    args.slice(argi).forEach((a, k) => {
      if (k > 0) out.push(', ');
      if (a === null) out.push('<nil>');
      else {
        if ((a instanceof GoBytes && a.sensitive) || a instanceof GoPieces) throw new SensitiveDataError('an extra printf operand of secret data is not supported: runsecrets never turns secret bytes into a string');
        out.push(`${typeName(a)}=`);
        formatV(a, out);
      }
    });
    out.push(')');
  }
  return out;
}
