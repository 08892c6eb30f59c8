// Go's time.Time as docker's CLI shows it: decoded from the API's RFC 3339 text (nanosecond precision kept, which a
// JS Date would lose), printed by String() ("2017-03-24 08:15:09.735271783 +0000 UTC") or marshalled back to JSON.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export class GoTime {
  private constructor(
    /** Milliseconds since the epoch of the whole seconds, plus the fraction in nanoseconds. */
    readonly epochSeconds: number,
    readonly nanos: number,
    /** Offset from UTC in minutes, as written in the text. */
    readonly offsetMinutes: number,
  ) {}

  /** Go's zero time, 0001-01-01 00:00:00 UTC (Date.UTC would map year 1 to 1901). */
  static zero(): GoTime {
    const d = new Date(0);
    d.setUTCFullYear(1, 0, 1);
    return new GoTime(d.getTime() / 1000, 0, 0);
  }

  static parse(text: string): GoTime | null {
    const m = RFC3339.exec(text);
    if (!m) return null;
    const d = new Date(0);
    d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), 0);
    const nanos = m[7] ? Number(m[7].padEnd(9, '0')) : 0;
    const offset = m[8] ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
    return new GoTime(d.getTime() / 1000 - offset * 60, nanos, offset);
  }

  isZero(): boolean {
    return this.equals(GoTime.zero());
  }

  equals(o: GoTime): boolean {
    return this.epochSeconds === o.epochSeconds && this.nanos === o.nanos;
  }

  /** Milliseconds since the Unix epoch, for durations. */
  epochMillis(): number {
    return this.epochSeconds * 1000 + this.nanos / 1e6;
  }

  private localParts(): { date: string; time: string } {
    const d = new Date((this.epochSeconds + this.offsetMinutes * 60) * 1000);
    const y = d.getUTCFullYear();
    const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
    return {
      date: `${y < 0 ? '-' : ''}${pad(Math.abs(y), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
      time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
    };
  }

  /** ".735271783" with trailing zeros dropped, or "" (Go's .999999999 layout). */
  private fraction(): string {
    if (this.nanos === 0) return '';
    return '.' + String(this.nanos).padStart(9, '0').replace(/0+$/, '');
  }

  private offset(colon: boolean): string {
    const sign = this.offsetMinutes < 0 ? '-' : '+';
    const abs = Math.abs(this.offsetMinutes);
    const hh = String(Math.trunc(abs / 60)).padStart(2, '0');
    const mm = String(abs % 60).padStart(2, '0');
    return `${sign}${hh}${colon ? ':' : ''}${mm}`;
  }

  /** time.Time.String(): a zero offset is the UTC zone (this process's and docker's local zone is UTC too). */
  toGoString(): string {
    const { date, time } = this.localParts();
    const zone = this.offsetMinutes === 0 ? 'UTC' : this.offset(false);
    return `${date} ${time}${this.fraction()} ${this.offset(false)} ${zone}`;
  }

  /** time.RFC3339Nano, as encoding/json writes a time. */
  toRFC3339Nano(): string {
    const { date, time } = this.localParts();
    return `${date}T${time}${this.fraction()}${this.offsetMinutes === 0 ? 'Z' : this.offset(true)}`;
  }
}
