// Rate limit for log lines an outsider can trigger at will (refused connections, denied requests): each kind of
// line is logged at most `perWindow` times a window; the next line logged after a quiet spell says how many were
// left out, so a flood costs a few lines and nothing is hidden.
export class LogLimiter {
  private readonly kinds = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly perWindow = 20,
    private readonly windowMs = 60_000,
  ) {}

  /** null: do not log this one; otherwise log it, adding `suppressed` (lines left out since the last one). */
  allow(kind: string, now = Date.now()): { suppressed: number } | null {
    let k = this.kinds.get(kind);
    if (!k || now - k.start >= this.windowMs) {
      const suppressed = k?.suppressed ?? 0;
      k = { start: now, count: 1, suppressed: 0 };
      this.kinds.set(kind, k);
      return { suppressed };
    }
    if (k.count < this.perWindow) {
      k.count++;
      return { suppressed: 0 };
    }
    k.suppressed++;
    return null;
  }
}
