// The services, tasks and nodes endpoints of the Engine API, as docker's client calls them (paths, queries and
// the raw bodies kept for `inspect`), plus the name lookups of secrets and configs that `service create` does.
import { EngineClient, escapePathSegment } from './engine.js';
import { CliError, DaemonError } from './errors.js';
import { filtersToJSON, type Filters } from './objects.js';
import { imageWithLatest } from '../swarm/image-ref.js';

export type Json = Record<string, unknown>;

export interface Raw {
  value: Json;
  raw: string;
}

function asArray(v: unknown): Json[] {
  return Array.isArray(v) ? (v.filter((x) => x !== null && typeof x === 'object') as Json[]) : [];
}

export function filtersQuery(filters: Filters): Record<string, string> {
  return filters.size > 0 ? { filters: filtersToJSON(filters) } : {};
}

export class SwarmApi {
  constructor(readonly client: EngineClient) {}

  private async list(path: string, query: Record<string, string>): Promise<Json[]> {
    const { value } = await this.client.getJSON(path, Object.keys(query).length > 0 ? query : undefined);
    return asArray(value);
  }

  private async one(path: string, query?: Record<string, string>): Promise<Raw> {
    const { value, raw } = await this.client.getJSON(path, query);
    return { value: (value ?? {}) as Json, raw };
  }

  /** Secrets or configs whose names start with any of `names` (the server filters by prefix). */
  async objectsByName(kind: 'secret' | 'config', names: string[]): Promise<Json[]> {
    const filters: Filters = new Map([['name', new Set(names)]]);
    return this.list(kind === 'secret' ? '/secrets' : '/configs', filtersQuery(filters));
  }

  // url.Values.Encode sorts keys: filters comes before status.
  async services(filters: Filters, status: boolean): Promise<Json[]> {
    return this.list('/services', { ...filtersQuery(filters), ...(status ? { status: 'true' } : {}) });
  }

  async service(ref: string, insertDefaults: boolean): Promise<Raw> {
    return this.one(`/services/${this.ref('service', ref)}`, { insertDefaults: String(insertDefaults) });
  }

  async createService(spec: Json): Promise<{ ID: string; Warnings: string[] }> {
    tagImage(spec);
    const res = await this.client.call('POST', '/services/create', { json: spec });
    return responseIdAndWarnings(res.body);
  }

  async updateService(id: string, version: number, spec: Json, registryAuthFrom: boolean): Promise<string[]> {
    tagImage(spec);
    const query: Record<string, string> = registryAuthFrom ? { registryAuthFrom: 'spec', version: String(version) } : { version: String(version) };
    const res = await this.client.call('POST', `/services/${this.ref('service', id)}/update`, { query, json: spec });
    return responseIdAndWarnings(res.body).Warnings;
  }

  async removeService(ref: string): Promise<void> {
    await this.client.call('DELETE', `/services/${this.ref('service', ref)}`);
  }

  async tasks(filters: Filters): Promise<Json[]> {
    return this.list('/tasks', filtersQuery(filters));
  }

  async nodes(filters: Filters): Promise<Json[]> {
    return this.list('/nodes', filtersQuery(filters));
  }

  async node(ref: string): Promise<Raw> {
    return this.one(`/nodes/${this.ref('node', ref)}`);
  }

  async updateNode(id: string, version: number, spec: Json): Promise<void> {
    await this.client.call('POST', `/nodes/${this.ref('node', id)}/update`, { query: { version: String(version) }, json: spec });
  }

  async removeNode(ref: string, force: boolean): Promise<void> {
    await this.client.call('DELETE', `/nodes/${this.ref('node', ref)}`, force ? { query: { force: '1' } } : {});
  }

  async info(): Promise<Json> {
    return (await this.one('/info')).value;
  }

  /** docker's client trims the reference and refuses an empty one before any request. */
  private ref(kind: string, id: string): string {
    const trimmed = id.trim();
    if (trimmed === '') throw new CliError(`invalid ${kind} name or ID: value is empty`);
    return escapePathSegment(trimmed);
  }
}

/** docker's client tags a bare image name before create and update (imageWithTagString), without a registry. */
function tagImage(spec: Json): void {
  const cs = (spec.TaskTemplate as Json | undefined)?.ContainerSpec as Json | undefined;
  if (cs && typeof cs.Image === 'string') cs.Image = imageWithLatest(cs.Image);
}

function responseIdAndWarnings(body: Buffer): { ID: string; Warnings: string[] } {
  let parsed: unknown = {};
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = {};
  }
  const o = (parsed ?? {}) as Json;
  const warnings = Array.isArray(o.Warnings) ? o.Warnings.filter((w): w is string => typeof w === 'string') : [];
  return { ID: typeof o.ID === 'string' ? o.ID : '', Warnings: warnings };
}

export function isNotFound(err: unknown): boolean {
  return err instanceof DaemonError && err.status === 404;
}
