// Secrets and configs over Docker's Engine API: one implementation for both kinds, with swarmkit's validation and
// messages (reference §1.1, §1.5, §2, §3.1) and moby's name/ID resolution (full ID, exact name, ID prefix).
import { objectNameError } from '../../shared/names.js';
import { maxPayloadSize, payloadSizeError } from '../../shared/limits.js';
import { newId } from '../../shared/ids.js';
import type { Store, StoredObject } from '../store/types.js';
import { GuardError, NameConflictError, NotFoundError, SequenceConflictError } from '../store/errors.js';
import type { ServiceRecord } from '../orchestrator/types.js';
import { ApiError, rpcError, readJson, sendJson, sendEmpty } from './http.js';
import { decodeBase64, decodeDriver, decodeObject, decodeString, decodeStringMap, field, type DriverSpec } from './decode.js';
import { matchLabels, parseFilters, validateFilters } from './filters.js';
import type { Ctx, Router } from './router.js';

export type ObjectKind = 'secret' | 'config';

/** What the store keeps as an object's spec; the name lives beside it (StoredObject.name). */
export interface ObjectSpec {
  Labels: Record<string, string> | null;
  Data: string; // base64
  Driver?: DriverSpec;
  Templating?: DriverSpec;
}

const SPEC_TYPE: Record<ObjectKind, string> = { secret: 'SecretSpec', config: 'ConfigSpec' };
const FILTERS: Record<ObjectKind, readonly string[]> = { secret: ['names', 'name', 'id', 'label'], config: ['name', 'id', 'label'] };

/** The largest body a create or update may send: base64 of twice the payload limit (what the docker CLI may read
 * from a file) plus room for name and labels, so that an oversized payload still gets Docker's size message. */
export function bodyLimit(kind: ObjectKind): number {
  return Math.ceil((2 * maxPayloadSize(kind)) / 3) * 4 + 64 * 1024;
}

interface DecodedSpec {
  name: string;
  labels: Record<string, string> | null;
  data: Buffer | null;
  driver: DriverSpec | null;
  templating: DriverSpec | null;
}

function decodeSpec(kind: ObjectKind, body: unknown): DecodedSpec {
  const t = SPEC_TYPE[kind];
  const o = decodeObject(body, `swarm.${t}`) ?? {};
  const labels = decodeStringMap(field(o, 'Labels'), `${t}.Labels`);
  return {
    name: decodeString(field(o, 'Name'), `${t}.Name`) ?? '',
    labels: labels && Object.keys(labels).length > 0 ? labels : null, // protobuf: an empty map comes back as nil
    data: decodeBase64(field(o, 'Data'), `${t}.Data`),
    driver: kind === 'secret' ? decodeDriver(field(o, 'Driver'), `${t}.Driver`) : null,
    templating: decodeDriver(field(o, 'Templating'), `${t}.Templating`),
  };
}

/** Docker's JSON for an object; a secret's Data is never returned, a config's always is. */
export function toDocker(kind: ObjectKind, o: StoredObject<ObjectSpec>): Record<string, unknown> {
  const spec: Record<string, unknown> = { Name: o.name ?? '', Labels: o.spec.Labels };
  if (kind === 'config') spec.Data = o.spec.Data;
  if (o.spec.Driver) spec.Driver = o.spec.Driver;
  if (o.spec.Templating) spec.Templating = o.spec.Templating;
  return { ID: o.id, Version: { Index: o.version }, CreatedAt: o.createdAt, UpdatedAt: o.updatedAt, Spec: spec };
}

/** moby daemon/cluster/helpers.go getSecret/getConfig: full ID, then exact name, then a unique ID prefix. */
export async function resolve(store: Store, kind: ObjectKind, input: string): Promise<StoredObject<ObjectSpec>> {
  const byId = await store.get(kind, input);
  if (byId) return byId;
  const byName = await store.getByName(kind, input);
  if (byName) return byName;
  const matches = (await store.list(kind)).filter((o) => o.id.startsWith(input));
  if (matches.length === 0) throw new ApiError(404, `${kind} ${input} not found`);
  if (matches.length > 1) throw new ApiError(400, `${kind} ${input} is ambiguous (${matches.length} matches found)`);
  return matches[0]!;
}

function validateCreate(kind: ObjectKind, s: DecodedSpec): void {
  const nameErr = objectNameError(s.name);
  if (nameErr) throw rpcError('InvalidArgument', nameErr);
  if (s.driver) {
    if (s.driver.Name === '') throw rpcError('InvalidArgument', 'secret driver must have a name');
    // swarmkit asks the plugin store; runsecrets has no secret-provider plugins, so no driver can be found.
    throw rpcError('InvalidArgument', `secret driver "${s.driver.Name}" not found: runsecrets has no secret driver plugins`);
  }
  const sizeErr = payloadSizeError(kind, s.data?.length ?? 0);
  if (sizeErr) throw rpcError('InvalidArgument', sizeErr);
}

function apiAtLeast(v: string, min: string): boolean {
  const [a1 = 0, a2 = 0] = v.split('.').map(Number);
  const [b1 = 0, b2 = 0] = min.split('.').map(Number);
  return a1 !== b1 ? a1 > b1 : a2 >= b2;
}

export function registerObjectRoutes(router: Router, kind: ObjectKind, getStore: () => Store): void {
  const base = `/${kind}s`;
  const limit = bodyLimit(kind);

  router.add('GET', base, async (ctx: Ctx) => {
    const args = parseFilters(ctx.query.get('filters'));
    validateFilters(args, FILTERS[kind]);
    const names = (args.get('names') ?? []).map((n) => n.toLowerCase());
    const prefixes = (args.get('name') ?? []).map((n) => n.toLowerCase());
    const ids = args.get('id') ?? [];
    const labels = args.get('label') ?? [];
    const all = await getStore().list(kind);
    const out = all
      .filter((o) => {
        // swarmkit ListSecrets: every names/name/id filter value is OR-ed together (store.Or), labels then AND.
        if (names.length + prefixes.length + ids.length > 0) {
          const lname = (o.name ?? '').toLowerCase();
          const hit = names.includes(lname) || prefixes.some((p) => lname.startsWith(p)) || ids.some((p) => o.id.startsWith(p));
          if (!hit) return false;
        }
        return matchLabels(o.spec.Labels, labels);
      })
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((o) => toDocker(kind, o));
    sendJson(ctx.res, 200, out);
  });

  router.add('POST', `${base}/create`, async (ctx: Ctx) => {
    const s = decodeSpec(kind, await readJson(ctx.req, limit));
    if (s.templating && !apiAtLeast(ctx.apiVersion, '1.37')) {
      throw new ApiError(400, `${kind} templating is not supported on the specified API version: ${ctx.apiVersion}`);
    }
    validateCreate(kind, s);
    const spec: ObjectSpec = { Labels: s.labels, Data: s.data!.toString('base64') };
    s.data!.fill(0); // the decoded bytes are not kept: the store holds the base64 text
    if (s.templating) spec.Templating = s.templating;
    try {
      const o = await getStore().create(kind, { id: newId(), name: s.name, spec });
      ctx.log.info({ kind, id: o.id, index: o.version }, `${kind} created`);
      sendJson(ctx.res, 201, { ID: o.id });
    } catch (err) {
      if (err instanceof NameConflictError) throw rpcError('AlreadyExists', `${kind} ${s.name} already exists`);
      throw err;
    }
  });

  router.add('GET', `${base}/:id`, async (ctx: Ctx) => {
    sendJson(ctx.res, 200, toDocker(kind, await resolve(getStore(), kind, ctx.params.id ?? '')));
  });

  router.add('POST', `${base}/:id/update`, async (ctx: Ctx) => {
    const rawVersion = ctx.query.get('version') ?? '';
    if (!/^\d+$/.test(rawVersion) || !Number.isSafeInteger(Number(rawVersion))) {
      throw new ApiError(400, `invalid ${kind} version`);
    }
    const s = decodeSpec(kind, await readJson(ctx.req, limit));
    const store = getStore();
    const cur = await resolve(store, kind, ctx.params.id ?? '');
    // swarmkit UpdateSecret/UpdateConfig: the name must stay (exactly) and data, if sent, must be unchanged.
    const sameData = s.data === null || sameBytes(s.data, cur.spec.Data);
    if (s.name !== cur.name || !sameData) throw rpcError('InvalidArgument', 'only updates to Labels are allowed');
    try {
      const o = await store.update(kind, cur.id, Number(rawVersion), { ...cur.spec, Labels: s.labels });
      ctx.log.info({ kind, id: o.id, index: o.version }, `${kind} updated`);
      sendEmpty(ctx.res, 200);
    } catch (err) {
      if (err instanceof SequenceConflictError) throw rpcError('Unknown', 'update out of sequence');
      if (err instanceof NotFoundError) throw rpcError('NotFound', `${kind} ${cur.id} not found`);
      throw err;
    }
  });

  router.add('DELETE', `${base}/:id`, async (ctx: Ctx) => {
    const store = getStore();
    const cur = await resolve(store, kind, ctx.params.id ?? '');
    // swarmkit RemoveSecret/RemoveConfig: refused while a service's current spec references it (services by ID).
    // The check is a guard of the delete itself, so no service can come to reference it in between.
    try {
      await store.delete(kind, cur.id, [{ guard: 'unreferenced', kind, id: cur.id, by: 'service' }]);
    } catch (err) {
      if (err instanceof NotFoundError) throw rpcError('NotFound', `could not find ${kind} ${cur.id}`);
      if (err instanceof GuardError && err.guard.guard === 'unreferenced') {
        const users = err.referrers.map((s) => (s.spec as ServiceRecord).Spec.Name);
        throw rpcError('InvalidArgument', `${kind} '${cur.name ?? ''}' is in use by the following service${users.length === 1 ? '' : 's'}: ${users.join(', ')}`);
      }
      throw err;
    }
    ctx.log.info({ kind, id: cur.id }, `${kind} removed`);
    sendEmpty(ctx.res, 204);
  });
}

/** Is data the object's current data? Both decoded copies are zeroed afterwards (they may be a secret's bytes). */
function sameBytes(data: Buffer, currentBase64: string): boolean {
  const cur = Buffer.from(currentBase64, 'base64');
  try {
    return data.equals(cur);
  } finally {
    cur.fill(0);
    data.fill(0);
  }
}
