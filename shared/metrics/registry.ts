// Prometheus metrics, written out in the text exposition format 0.0.4 (no dependency: three metric types and a
// renderer are a page). Labels are fixed small sets (operation types, states, reasons): never a secret's name, a
// task's name or any value an outsider chooses, so neither metadata nor cardinality leaks.
export type Labels = Readonly<Record<string, string>>;

/** Seconds buckets for latencies from 0.1 ms to 10 s. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  lines(): string[] | Promise<string[]>;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** One key per label set, independent of the order the labels were given in. */
function key(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    const cur = this.values.get(k);
    if (cur) cur.value += by;
    else this.values.set(k, { labels, value: by });
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels))?.value ?? 0;
  }
  lines(): string[] {
    return [...this.values.values()].map((v) => `${this.name}${labelText(v.labels)} ${num(v.value)}`);
  }
}

type GaugeRead = Array<[Labels, number]> | number;

/** A gauge whose samples are read when scraped (counts of objects, process figures). */
export class Gauge {
  constructor(
    readonly name: string,
    private readonly read: () => GaugeRead | Promise<GaugeRead>,
  ) {}
  async lines(): Promise<string[]> {
    const r = await this.read();
    const samples: Array<[Labels, number]> = typeof r === 'number' ? [[{}, r]] : r;
    return samples.map(([l, v]) => `${this.name}${labelText(l)} ${num(v)}`);
  }
}

export class Histogram {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    private readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {}
  observe(value: number, labels: Labels = {}): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  /** Times fn from its call to its settling, in seconds. */
  async time<T>(fn: () => Promise<T>, labels: Labels = {}): Promise<T> {
    const t0 = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      this.observe(Number(process.hrtime.bigint() - t0) / 1e9, labels);
    }
  }
  count(labels: Labels = {}): number {
    return this.series.get(key(labels))?.count ?? 0;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText(s.labels, ['le', num(b)])} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}`);
      out.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      out.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  private readonly families = new Map<string, Family>();

  /** Adds a metric made elsewhere (e.g. a module's own counter) under its name. */
  add<M extends { lines(): string[] | Promise<string[]> }>(name: string, help: string, type: Family['type'], m: M): M {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name ${name}`);
    if (this.families.has(name)) throw new Error(`metric ${name} registered twice`);
    this.families.set(name, { name, help, type, lines: () => m.lines() });
    return m;
  }
  counter(name: string, help: string): Counter {
    return this.add(name, help, 'counter', new Counter(name));
  }
  gauge(name: string, help: string, read: () => GaugeRead | Promise<GaugeRead>): Gauge {
    return this.add(name, help, 'gauge', new Gauge(name, read));
  }
  /** A counter kept elsewhere (e.g. the kernel's CPU time), read when scraped. */
  counterFrom(name: string, help: string, read: () => GaugeRead | Promise<GaugeRead>): Gauge {
    return this.add(name, help, 'counter', new Gauge(name, read));
  }
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    return this.add(name, help, 'histogram', new Histogram(name, buckets));
  }

  /** The text exposition: HELP and TYPE for every family (even one without samples yet), then its samples. */
  async render(): Promise<string> {
    const out: string[] = [];
    for (const f of this.families.values()) {
      let samples: string[];
      try {
        samples = await f.lines();
      } catch {
        samples = []; // a reader that cannot answer now (store closed, locked) leaves the family empty
      }
      out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`, ...samples);
    }
    return out.join('\n') + '\n';
  }
}
