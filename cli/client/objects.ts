// The secrets and configs endpoints of the Engine API, as docker's client calls them (list with JSON filters,
// create, inspect with the raw body kept for `inspect`, remove), for either kind.
import { EngineClient, escapePathSegment } from './engine.js';
import { CliError } from './errors.js';

export type ObjectKind = 'secret' | 'config';

/** filters.Args: name -> set of values, sent as {"name":{"value":true}}. */
export type Filters = Map<string, Set<string>>;

export interface CreateSpec {
  Name: string;
  Labels: Record<string, string>;
  Data?: string; // base64
  Driver?: { Name: string };
  Templating?: { Name: string };
}

export function filtersToJSON(filters: Filters): string {
  const obj: Record<string, Record<string, boolean>> = {};
  for (const key of [...filters.keys()].sort()) {
    const vals: Record<string, boolean> = {};
    for (const v of [...filters.get(key)!].sort()) vals[v] = true;
    obj[key] = vals;
  }
  return JSON.stringify(obj);
}

export class ObjectsApi {
  constructor(
    private readonly client: EngineClient,
    readonly kind: ObjectKind,
  ) {}

  private get base(): string {
    return this.kind === 'secret' ? '/secrets' : '/configs';
  }

  /** docker's client trims the reference and refuses an empty one before any request. */
  private ref(id: string): string {
    const trimmed = id.trim();
    if (trimmed === '') throw new CliError(`invalid ${this.kind} name or ID: value is empty`);
    return escapePathSegment(trimmed);
  }

  async list(filters: Filters): Promise<unknown[]> {
    const query = filters.size > 0 ? { filters: filtersToJSON(filters) } : undefined;
    const { value } = await this.client.getJSON(this.base, query);
    return Array.isArray(value) ? value : [];
  }

  async create(spec: CreateSpec): Promise<string> {
    const res = await this.client.call('POST', `${this.base}/create`, { json: spec });
    const body = JSON.parse(res.body.toString('utf8')) as { ID?: unknown };
    return typeof body.ID === 'string' ? body.ID : '';
  }

  /** The decoded object and the raw body, which `inspect` prints as the server wrote it. */
  async inspect(id: string): Promise<{ value: unknown; raw: string }> {
    return this.client.getJSON(`${this.base}/${this.ref(id)}`);
  }

  /** POST /…/{id}/update?version=N with the full spec (only its labels may differ from the stored one). */
  async update(id: string, version: number, spec: CreateSpec): Promise<void> {
    await this.client.call('POST', `${this.base}/${this.ref(id)}/update`, { query: { version: String(version) }, json: spec });
  }

  async remove(id: string): Promise<void> {
    await this.client.call('DELETE', `${this.base}/${this.ref(id)}`);
  }
}
