// Go's strconv.ParseUint and time.ParseDuration/Duration.String, with their exact error texts, for docker's
// numeric and duration flags (--replicas, mode=0400, --restart-delay 1m30s, ...).
import { goQuote } from '../format/go-quote.js';

export class GoParseError extends Error {}

/** strconv.ParseUint(s, base, bits) for base 10 or 0 (0x, 0o, 0b prefixes; a leading 0 means octal). */
export function parseUint(s: string, base: 0 | 10, bits: 32 | 64): bigint {
  const fail = (why: string): never => {
    throw new GoParseError(`strconv.ParseUint: parsing ${goQuote(s)}: ${why}`);
  };
  if (s === '') fail('invalid syntax');
  let digits = s;
  let radix = 10;
  if (base === 0) {
    const m = /^0([xXoObB])/.exec(s);
    if (m) {
      radix = { x: 16, o: 8, b: 2 }[m[1]!.toLowerCase() as 'x' | 'o' | 'b'];
      digits = s.slice(2);
    } else if (s.length > 1 && s.startsWith('0')) {
      radix = 8;
      digits = s.slice(1);
    }
  }
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[radix as 2 | 8 | 10 | 16];
  if (!valid.test(digits)) fail('invalid syntax');
  let n = 0n;
  for (const ch of digits) n = n * BigInt(radix) + BigInt(parseInt(ch, radix));
  if (n >= 1n << BigInt(bits)) fail('value out of range');
  return n;
}

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** time.ParseDuration: nanoseconds (as a JS number; exact below 2^53 ns, about 104 days). */
export function parseDuration(s: string): number {
  const invalid = (): never => {
    throw new GoParseError(`time: invalid duration ${goQuote(s)}`);
  };
  let rest = s;
  let neg = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    neg = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') invalid();
  let total = 0;
  while (rest !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(rest)!;
    if (m[0] === '' || m[0] === '.') invalid();
    rest = rest.slice(m[0].length);
    const u = /^[^0-9.]*/.exec(rest)![0];
    if (u === '') throw new GoParseError(`time: missing unit in duration ${goQuote(s)}`);
    const scale = UNITS[u];
    if (scale === undefined) throw new GoParseError(`time: unknown unit ${goQuote(u)} in duration ${goQuote(s)}`);
    rest = rest.slice(u.length);
    total += Number(m[1] || '0') * scale + (m[2] ? Math.trunc(Number('0.' + m[2]) * scale) : 0);
  }
  if (total > 9223372036854775807) invalid();
  return neg ? -total : total;
}

function fmtFrac(v: number, prec: number): [string, number] {
  // Prints the fractional part of v/10^prec without trailing zeros; returns it and the integer part.
  let frac = '';
  let print = false;
  let w = v;
  for (let i = 0; i < prec; i++) {
    const digit = w % 10;
    print = print || digit !== 0;
    if (print) frac = String(digit) + frac;
    w = Math.trunc(w / 10);
  }
  return [print ? '.' + frac : '', w];
}

/** time.Duration.String: "1m30s", "500ms", "0s". */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    let prec: number;
    let unit: string;
    if (u < 1e3) return (neg ? '-' : '') + `${u}ns`;
    if (u < 1e6) {
      prec = 3;
      unit = 'µs';
    } else {
      prec = 6;
      unit = 'ms';
    }
    const [frac, int] = fmtFrac(u, prec);
    out = `${int}${frac}${unit}`;
  } else {
    const [frac, secs] = fmtFrac(u, 9);
    u = secs;
    out = `${u % 60}${frac}s`;
    u = Math.trunc(u / 60);
    if (u > 0) {
      out = `${u % 60}m` + out;
      u = Math.trunc(u / 60);
      if (u > 0) out = `${u}h` + out;
    }
  }
  return (neg ? '-' : '') + out;
}
