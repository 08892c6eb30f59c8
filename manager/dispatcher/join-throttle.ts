// Failed joins, throttled per source address: a token bucket per address (RATE tokens a second, BURST at most)
// that only failed attempts spend. A valid token is never throttled, so a host that shares its address with a
// flood (NAT, the same test machine) still joins; the 129 random bits of a token's secret, not this bucket, are
// what make guessing hopeless. What the bucket bounds is the cost of a flood: its refusals become cheap 429s that
// log nothing, instead of one warning each.

export const JOIN_FAILURE_RATE = 2; // per second, per source address
export const JOIN_FAILURE_BURST = 10;
/** Addresses tracked at most; past that the one touched longest ago is forgotten (a full bucket again). */
const MAX_SOURCES = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class JoinFailureThrottle {
  private readonly buckets = new Map<string, Bucket>(); // insertion order = least recently touched first

  constructor(
    private readonly rate = JOIN_FAILURE_RATE,
    private readonly burst = JOIN_FAILURE_BURST,
  ) {}

  private refill(source: string, now: number): Bucket {
    const b = this.buckets.get(source) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    this.buckets.delete(source);
    this.buckets.set(source, b);
    while (this.buckets.size > MAX_SOURCES) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) break;
      this.buckets.delete(oldest);
    }
    return b;
  }

  /**
   * Records one failed attempt from `source`. Returns 0 when it may be answered in full (and logged), else the
   * seconds until this source may fail again: answer 429.
   */
  fail(source: string, now = Date.now()): number {
    const b = this.refill(source, now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.rate));
  }
}
