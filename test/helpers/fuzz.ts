// Shared bits of the fuzz tests: a seeded PRNG (the seed is printed and RS_SEED replays it) and the junk values
// fuzzers draw from.

/** The seed when RS_SEED is not set. */
export const DEFAULT_SEED = 20261128;

/** The run's seed: RS_SEED when set (replay or exploration), else DEFAULT_SEED. */
export function fuzzSeed(): number {
  const env = process.env.RS_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`RS_SEED must be a non-negative integer, got "${env}"`);
    return n >>> 0;
  }
  return DEFAULT_SEED; // fixed, so that CI runs the same cases every time; RS_SEED explores others
}

/** mulberry32: small, fast, good enough to pick mutations; the same seed gives the same run. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** Strings that break naive code: unicode oddities, NUL, lone surrogates, traversal, huge ones. */
export function junkString(r: Rng): string {
  const pool: (() => string)[] = [
    () => '',
    () => ' ',
    () => '\u0000',
    () => 'a\u0000b',
    () => '\ud800',
    () => 'x\udfffy',
    () => '\ud83d\ude00'.repeat(r.int(50) + 1),
    () => '\u202e\u0301\u200b\ufeff',
    () => 'Ω≈ç√∫˜µ≤≥÷',
    () => '../../etc/passwd',
    () => '..',
    () => '/',
    () => '%00%2e%2e%2f',
    () => 'a'.repeat(r.pick([64, 65, 255, 256, 4096, 65537])),
    () => 'x'.repeat(r.pick([100_000, 1_000_000])),
    () => '\n\r\t"\\',
    () => '{"$ne":1}',
    () => String(r.int(1e9)),
    () => r.bytes(r.int(40) + 1).toString('latin1'),
  ];
  return r.pick(pool)();
}

/** Any JSON value, some of them very large or very deep. */
export function junkValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 8 : 11)) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 2, 4294967296, 0o777]);
    case 3:
    case 4:
    case 5:
      return junkString(r);
    case 6:
      return [];
    case 7:
      return {};
    case 8:
      return Array.from({ length: r.int(5) }, () => junkValue(r, depth + 1));
    case 9:
      return Object.fromEntries(Array.from({ length: r.int(5) }, () => [junkString(r).slice(0, 100), junkValue(r, depth + 1)]));
    default:
      return r.chance(0.5) ? Array.from({ length: 100_000 }, (_, i) => i) : Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, 'v']));
  }
}

/** n levels of nested arrays or objects as JSON text (built as text: the value itself would be too deep to use). */
export function deepJson(n: number, objects: boolean): string {
  return objects ? '{"a":'.repeat(n) + '1' + '}'.repeat(n) : '['.repeat(n) + ']'.repeat(n);
}

/** The same generator as a plain function returning numbers in [0, 1). */
export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}
