// Services, tasks and nodes over Docker's Engine API (the subset the docker CLI uses for `service` and `node`),
// with moby's resolution (full ID, name, unique ID prefix), swarmkit's checks and Docker's texts and codes.
import { hostname } from 'node:os';
import { newId } from '../../shared/ids.js';
import { tlsInfoOf } from '../../shared/pki.js';
import type { Store, StoredObject } from '../store/types.js';
import { GuardError, NameConflictError, NotFoundError, SequenceConflictError } from '../store/errors.js';
import type { OpenCluster } from '../cluster/state.js';
import { isAccepted, isFinished, stateRank, isTaskState, type JobStatus, type NodeRecord, type ServiceRecord, type TaskRecord } from '../orchestrator/types.js';
import { ApiError, readJson, rpcError, sendEmpty, sendJson } from './http.js';
import { decodeObject, decodeString, decodeStringMap, field } from './decode.js';
import { matchLabels, parseFilters, validateFilters } from './filters.js';
import { checkRefsExist, checkServiceSpec, modeKind, refGuards, type CheckedSpec } from './service-spec.js';
import { withDefaults } from './service-defaults.js';
import { pullAuthHeader, pullAuthOnCreate, pullAuthOnUpdate, withoutPullOptions } from './pull-auth.js';
import type { Ctx, Router } from './router.js';
import { allNetworks } from './networks.js';
import { resolveServiceNetworks } from './service-networks.js';
import { parseSecretUpdateMode } from '../orchestrator/update.js';
import { isTaskDirty } from '../orchestrator/task-dirty.js';
import { formatRfc3339Nano, nowNs } from '../../shared/time.js';

/** The secret-update label names a mode (manager/orchestrator/update.ts), or the spec is refused. */
function checkSecretUpdateLabel(spec: Record<string, unknown>): void {
  const m = parseSecretUpdateMode(spec.Labels as Record<string, unknown> | undefined);
  if (typeof m === 'string') throw rpcError('InvalidArgument', m);
}

/** Go's strconv.ParseBool; null when it would fail. */
function goParseBool(v: string): boolean | null {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return null;
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

const SPEC_BODY_LIMIT = 4 << 20; // a service spec holds no payloads; 4 MiB is far beyond any real one

export interface SwarmObjectsDeps {
  store(): Store;
  cluster(): OpenCluster;
  /** Revokes a certificate serial at once (the manager's revocation list). */
  revoke(serial: string): void;
}

function byId<T>(a: StoredObject<T>, b: StoredObject<T>): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** moby's strconv.ParseUint check of `?version=`, with its error text. */
function versionParam(ctx: Ctx, kind: string): number {
  const raw = ctx.query.get('version') ?? '';
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new ApiError(400, `invalid ${kind} version '${raw}': strconv.ParseUint: parsing "${raw}": invalid syntax`);
  }
  return Number(raw);
}

/** moby's getService/getNode/getTask: full ID, then name, then a unique ID prefix. The name must match exactly
 * (swarmkit's List* filters compare names case-sensitively), although uniqueness is case-insensitive. */
export function pick<T extends { id: string }>(all: T[], input: string, kind: string, nameOf: (o: T) => string): T {
  const exact = all.find((o) => o.id === input);
  if (exact) return exact;
  let matches = all.filter((o) => nameOf(o) === input);
  if (matches.length === 0) matches = all.filter((o) => input !== '' && o.id.startsWith(input));
  if (matches.length === 0) throw new ApiError(404, `${kind} ${input} not found`);
  if (matches.length > 1) throw new ApiError(400, `${kind} ${input} is ambiguous (${matches.length} matches found)`);
  return matches[0]!;
}

export function taskName(t: StoredObject<TaskRecord>): string {
  return `${t.spec.ServiceName}.${t.spec.Slot > 0 ? t.spec.Slot : t.spec.NodeID}.${t.id}`;
}

function serviceJson(s: StoredObject<ServiceRecord>, status?: { RunningTasks: number; DesiredTasks: number; CompletedTasks: number }): Record<string, unknown> {
  const o: Record<string, unknown> = { ID: s.id, Version: { Index: s.version }, CreatedAt: s.createdAt, UpdatedAt: s.updatedAt, Spec: s.spec.Spec };
  if (s.spec.PreviousSpec) o.PreviousSpec = s.spec.PreviousSpec;
  o.Endpoint = { Spec: {} };
  if (s.spec.UpdateStatus) o.UpdateStatus = s.spec.UpdateStatus;
  if (status) o.ServiceStatus = status;
  if (s.spec.JobStatus) o.JobStatus = jobStatusJson(s.spec.JobStatus);
  return o;
}

/** Go's omitempty on Version.Index: iteration 0 shows as `{}`. */
function versionJson(v: { Index: number }): Record<string, number> {
  return v.Index === 0 ? {} : { Index: v.Index };
}

function jobStatusJson(j: JobStatus): Record<string, unknown> {
  return { JobIteration: versionJson(j.JobIteration), LastExecution: j.LastExecution };
}

/** swarmkit's CreateService/UpdateService: a job's first run, or (on every update) its next one. */
function nextJobStatus(spec: Record<string, unknown>, cur: JobStatus | undefined): { JobStatus?: JobStatus } {
  const kind = modeKind(spec);
  if (kind !== 'replicated-job' && kind !== 'global-job') return {};
  const index = cur === undefined ? 0 : cur.JobIteration.Index + 1;
  return { JobStatus: { JobIteration: { Index: index }, LastExecution: formatRfc3339Nano(nowNs()) } };
}

function taskJson(t: StoredObject<TaskRecord>): Record<string, unknown> {
  const r = t.spec;
  const o: Record<string, unknown> = {
    ID: t.id,
    Version: { Index: t.version },
    CreatedAt: t.createdAt,
    UpdatedAt: t.updatedAt,
    Labels: r.Labels,
    Spec: r.Spec,
    ServiceID: r.ServiceID,
  };
  if (r.Slot > 0) o.Slot = r.Slot;
  if (r.NodeID) o.NodeID = r.NodeID;
  o.Status = { ...r.Status, PortStatus: {} };
  o.DesiredState = r.DesiredState;
  if (r.JobIteration) o.JobIteration = versionJson(r.JobIteration);
  return o;
}

function arch(): string {
  return process.arch === 'x64' ? 'x86_64' : process.arch;
}

/** The manager's own node: not in the store (it runs no tasks), shown as Docker shows a leader. */
function managerNodeJson(c: OpenCluster): Record<string, unknown> {
  const cfg = c.config;
  return {
    ID: cfg.nodeId,
    Version: { Index: cfg.version },
    CreatedAt: cfg.createdAt,
    UpdatedAt: cfg.updatedAt,
    Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
    // Its certificate is issued by the current root (it moves last in a rotation, when the rotation completes).
    Description: { Hostname: hostname(), Platform: { Architecture: arch(), OS: 'linux' }, TLSInfo: tlsInfoOf(c.ca.certPem) },
    Status: { State: 'ready', Addr: cfg.advertiseAddr.replace(/:\d+$/, '') },
    ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: cfg.advertiseAddr },
  };
}

function nodeJson(n: StoredObject<NodeRecord>): Record<string, unknown> {
  const r = n.spec;
  return { ID: n.id, Version: { Index: n.version }, CreatedAt: n.createdAt, UpdatedAt: n.updatedAt, Spec: r.Spec, Description: { ...r.Description, TLSInfo: r.TLSInfo ?? {} }, Status: r.Status };
}

export function serviceStatus(s: StoredObject<ServiceRecord>, tasks: StoredObject<TaskRecord>[]): { RunningTasks: number; DesiredTasks: number; CompletedTasks: number } {
  const mine = tasks.filter((t) => t.spec.ServiceID === s.id);
  const running = mine.filter((t) => t.spec.Status.State === 'running' && stateRank(t.spec.DesiredState) <= stateRank('running')).length;
  const mode = s.spec.Spec.Mode as { Replicated?: { Replicas?: number }; Global?: unknown };
  const kind = modeKind(s.spec.Spec);
  if (kind === 'replicated-job' || kind === 'global-job') {
    // A job's current run: its tasks meant to run to completion, and those that did.
    const index = s.spec.JobStatus?.JobIteration.Index ?? 0;
    const run = mine.filter((t) => t.spec.DesiredState === 'complete' && (t.spec.JobIteration?.Index ?? 0) === index);
    const runningJob = run.filter((t) => t.spec.Status.State === 'running').length;
    return { RunningTasks: runningJob, DesiredTasks: run.length, CompletedTasks: run.filter((t) => t.spec.Status.State === 'complete').length };
  }
  const desired = mode.Global != null ? mine.filter((t) => t.spec.DesiredState === 'running').length : (mode.Replicated?.Replicas ?? 1);
  return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: 0 };
}

/** What a task label filter matches: the service's labels as the task recorded them when it was made (swarmkit's
 * ServiceAnnotations.Labels, reference §5.5), so tasks of a removed stack are still found while they stop. Tasks
 * made before tasks recorded them use their service's current labels. */
function taskServiceLabels(t: TaskRecord, current: Map<string, Record<string, string>>): Record<string, string> {
  return t.ServiceAnnotations?.Labels ?? current.get(t.ServiceID) ?? {};
}

export function registerSwarmObjectRoutes(router: Router, deps: SwarmObjectsDeps): void {
  const store = (): Store => deps.store();
  const services = async (): Promise<StoredObject<ServiceRecord>[]> => (await store().list('service')).sort(byId);
  const networks = () => allNetworks({ store, cluster: () => deps.cluster().config });
  const resolveService = async (input: string): Promise<StoredObject<ServiceRecord>> =>
    (await store().get('service', input)) ?? pick(await services(), input, 'service', (s) => s.spec.Spec.Name);

  /** A reference guard failed: a secret, config or network went between the check and the write. The checks,
   * run again, give Docker's message for what is gone now. */
  const refsGone = async (checked: CheckedSpec): Promise<void> => {
    resolveServiceNetworks(checked.spec, await networks());
    await checkRefsExist(store(), checked);
  };

  // ---- services ----

  router.add('GET', '/services', async (ctx) => {
    const args = parseFilters(ctx.query.get('filters'));
    validateFilters(args, ['id', 'label', 'mode', 'name']);
    const ids = args.get('id') ?? [];
    const names = args.get('name') ?? [];
    const modes = args.get('mode') ?? [];
    for (const m of modes) if (!['replicated', 'global', 'replicated-job', 'global-job'].includes(m)) throw new ApiError(400, `Invalid filter: 'mode'='${m}'`);
    const labels = args.get('label') ?? [];
    const withStatus = ['1', 'true'].includes((ctx.query.get('status') ?? '').toLowerCase());
    const tasks = withStatus ? await store().list('task') : [];
    const out = (await services())
      .filter((s) => {
        if (ids.length > 0 && !ids.some((p) => s.id.startsWith(p))) return false;
        if (names.length > 0 && !names.some((p) => s.spec.Spec.Name.startsWith(p))) return false;
        if (modes.length > 0 && !modes.includes(modeKind(s.spec.Spec))) return false;
        return matchLabels((s.spec.Spec.Labels as Record<string, string> | undefined) ?? null, labels);
      })
      .map((s) => serviceJson(s, withStatus ? serviceStatus(s, tasks) : undefined));
    sendJson(ctx.res, 200, out);
  });

  router.add('POST', '/services/create', async (ctx) => {
    const auth = pullAuthOnCreate(pullAuthHeader(ctx.req));
    const checked = checkServiceSpec(await readJson(ctx.req, SPEC_BODY_LIMIT));
    checkSecretUpdateLabel(checked.spec);
    const nets = await networks();
    resolveServiceNetworks(checked.spec, nets);
    await checkRefsExist(store(), checked);
    const name = checked.spec.Name;
    try {
      // The references checked above commit with the service (a secret removed meanwhile fails it).
      const s = await store().create('service', { id: newId(), name, spec: { Spec: withoutPullOptions(checked.spec), ...auth, ...nextJobStatus(checked.spec, undefined) } }, refGuards(checked, nets));
      ctx.log.info({ service: s.id, name, index: s.version }, 'service created');
      // moby's ServiceCreateResponse: Warnings has no omitempty (null without warnings).
      sendJson(ctx.res, 201, { ID: s.id, Warnings: null });
    } catch (err) {
      // swarmkit keeps the store's text in front, for clients that match on it.
      if (err instanceof NameConflictError) throw rpcError('AlreadyExists', `name conflicts with an existing object: service ${name} already exists`);
      if (err instanceof GuardError) await refsGone(checked);
      throw err;
    }
  });

  router.add('GET', '/services/:id', async (ctx) => {
    const raw = ctx.query.get('insertDefaults') ?? '';
    const insertDefaults = raw === '' ? false : goParseBool(raw);
    if (insertDefaults === null) throw new ApiError(400, `invalid value for insertDefaults: ${raw}`);
    const s = await resolveService(ctx.params.id ?? '');
    const json = serviceJson(s);
    if (insertDefaults) json.Spec = withDefaults(s.spec.Spec);
    sendJson(ctx.res, 200, json);
  });

  router.add('POST', '/services/:id/update', async (ctx) => {
    const version = versionParam(ctx, 'service');
    const header = pullAuthHeader(ctx.req);
    const body = await readJson(ctx.req, SPEC_BODY_LIMIT);
    const cur = await resolveService(ctx.params.id ?? '');
    let checked = checkServiceSpec(body);
    const rollbackParam = ctx.query.get('rollback') ?? '';
    if (!['', 'none', 'previous'].includes(rollbackParam)) throw new ApiError(400, `unrecognized rollback option ${rollbackParam}`);
    const rollback = rollbackParam === 'previous';
    if (rollback && !cur.spec.PreviousSpec) throw rpcError('FailedPrecondition', `service ${cur.id} does not have a previous spec`);
    const auth = pullAuthOnUpdate(cur.spec, header, ctx.query.get('registryAuthFrom'), rollback);
    if (rollback) checked = checkServiceSpec(structuredClone(cur.spec.PreviousSpec));
    checkSecretUpdateLabel(checked.spec);
    if (modeKind(checked.spec) !== modeKind(cur.spec.Spec)) throw rpcError('Unimplemented', 'service mode change is not allowed');
    if (checked.spec.Name !== cur.spec.Spec.Name) throw rpcError('Unimplemented', 'renaming services is not supported');
    const nets = await networks();
    resolveServiceNetworks(checked.spec, nets);
    await checkRefsExist(store(), checked);
    try {
      // swarmkit's UpdateService: a rollback swaps Spec and PreviousSpec and starts one (the orchestrator runs it
      // with RollbackConfig); any other update resets UpdateStatus.
      const next: ServiceRecord = { Spec: withoutPullOptions(checked.spec), PreviousSpec: cur.spec.Spec, ...auth, ...nextJobStatus(checked.spec, cur.spec.JobStatus) };
      if (rollback) next.UpdateStatus = { State: 'rollback_started', StartedAt: formatRfc3339Nano(nowNs()), Message: 'manually requested rollback' };
      const s = await store().update('service', cur.id, version, next, undefined, refGuards(checked, nets));
      ctx.log.info({ service: s.id, index: s.version }, 'service updated');
      // moby's ServiceUpdateResponse: `{"Warnings":null}`; docker-py's force_update reads the key.
      sendJson(ctx.res, 200, { Warnings: null });
    } catch (err) {
      if (err instanceof SequenceConflictError) throw rpcError('Unknown', 'update out of sequence');
      if (err instanceof NotFoundError) throw rpcError('NotFound', `service ${cur.id} not found`);
      if (err instanceof GuardError) await refsGone(checked);
      throw err;
    }
  });

  router.add('DELETE', '/services/:id', async (ctx) => {
    const cur = await resolveService(ctx.params.id ?? '');
    try {
      await store().delete('service', cur.id);
    } catch (err) {
      if (err instanceof NotFoundError) throw rpcError('NotFound', `service ${cur.id} not found`);
      throw err;
    }
    ctx.log.info({ service: cur.id }, 'service removed');
    sendEmpty(ctx.res, 200);
  });

  // ---- tasks ----

  const serviceLabelsOf = async (): Promise<Map<string, Record<string, string>>> =>
    new Map((await services()).map((s) => [s.id, (s.spec.Spec.Labels as Record<string, string> | undefined) ?? {}]));

  router.add('GET', '/tasks', async (ctx) => {
    const args = parseFilters(ctx.query.get('filters'));
    validateFilters(args, ['_up-to-date', 'id', 'label', 'name', 'node', 'service', 'desired-state']);
    // moby resolves service and node filters to IDs first; an unknown one is an error.
    const svcIds: string[] = [];
    for (const v of args.get('service') ?? []) svcIds.push((await resolveService(v)).id);
    const nodeIds: string[] = [];
    for (const v of args.get('node') ?? []) nodeIds.push(v === 'self' ? deps.cluster().config.nodeId : (await resolveNode(v)).id);
    const desired = args.get('desired-state') ?? [];
    for (const d of desired) if (!isTaskState(d)) throw new ApiError(400, `Invalid desired-state filter: '${d}'`);
    const ids = args.get('id') ?? [];
    const names = args.get('name') ?? [];
    const labels = args.get('label') ?? [];
    const svcLabels = labels.length > 0 ? await serviceLabelsOf() : null;
    const svcById = new Map((await services()).map((s) => [s.id, s]));
    // swarmkit's UpToDate filter (any value turns it on; the CLI's progress display): tasks that are not dirty
    // against their service's spec, and not marked for replacement by an update in progress.
    const upToDate = (args.get('_up-to-date') ?? []).length > 0;
    const nodeById = upToDate ? new Map((await nodes()).map((n) => [n.id, n])) : null;
    const out = (await store().list('task'))
      .filter((t) => {
        // A stopped task of a removed service is garbage the orchestrator deletes on its next run (swarmkit's
        // reaper deletes it at once): not listed. So `docker stack rm --detach=false`, whose wait loop counts the
        // polls that saw a stopped task rather than the stopped tasks, waits until every task has stopped.
        const svc = svcById.get(t.spec.ServiceID);
        if (!svc && isFinished(t.spec.Status.State)) return false;
        if (nodeById && (!svc || t.spec.outdated === true || isTaskDirty(obj(svc.spec.Spec.TaskTemplate), t.spec.Spec, nodeById.get(t.spec.NodeID)))) return false;
        if (svcIds.length > 0 && !svcIds.includes(t.spec.ServiceID)) return false;
        if (nodeIds.length > 0 && !nodeIds.includes(t.spec.NodeID)) return false;
        if (desired.length > 0 && !desired.includes(t.spec.DesiredState)) return false;
        if (ids.length > 0 && !ids.some((p) => t.id.startsWith(p))) return false;
        if (names.length > 0 && !names.some((n) => taskName(t).startsWith(n))) return false;
        return labels.length === 0 || matchLabels(taskServiceLabels(t.spec, svcLabels!), labels);
      })
      .sort(byId)
      .map(taskJson);
    sendJson(ctx.res, 200, out);
  });

  router.add('GET', '/tasks/:id', async (ctx) => {
    const input = ctx.params.id ?? '';
    const all = await store().list('task');
    sendJson(ctx.res, 200, taskJson(pick(all, input, 'task', taskName)));
  });

  // ---- nodes ----

  const nodes = async (): Promise<StoredObject<NodeRecord>[]> => (await store().list('node')).sort(byId);
  type ManagerEntry = { id: string; manager: true };
  async function resolveNode(input: string): Promise<StoredObject<NodeRecord> | ManagerEntry> {
    const me: ManagerEntry = { id: deps.cluster().config.nodeId, manager: true };
    const all: (StoredObject<NodeRecord> | ManagerEntry)[] = [me, ...(await nodes())];
    return pick(all, input, 'node', (n) => ('manager' in n ? hostname() : n.spec.Description.Hostname));
  }

  router.add('GET', '/nodes', async (ctx) => {
    const args = parseFilters(ctx.query.get('filters'));
    validateFilters(args, ['id', 'label', 'membership', 'name', 'node.label', 'role']);
    const all: Record<string, unknown>[] = [managerNodeJson(deps.cluster()), ...(await nodes()).map(nodeJson)];
    const ids = args.get('id') ?? [];
    const names = args.get('name') ?? [];
    const roles = args.get('role') ?? [];
    for (const r of roles) if (r !== 'worker' && r !== 'manager') throw new ApiError(400, `Invalid role filter: '${r}'`);
    // As swarmkit: `node.label` matches the manager-set Spec.Labels, `label` the node's own engine labels.
    const nodeLabels = args.get('node.label') ?? [];
    const engineLabels = args.get('label') ?? [];
    const memberships = args.get('membership') ?? [];
    for (const m of memberships) if (m !== 'accepted' && m !== 'pending') throw new ApiError(400, `Invalid membership filter: '${m}'`);
    const out = all.filter((n) => {
      const spec = n.Spec as NodeRecord['Spec'];
      const desc = n.Description as NodeRecord['Description'];
      if (ids.length > 0 && !ids.some((p) => String(n.ID).startsWith(p))) return false;
      if (names.length > 0 && !names.some((p) => desc.Hostname.startsWith(p))) return false;
      if (roles.length > 0 && !roles.includes(spec.Role)) return false;
      if (memberships.length > 0 && !memberships.includes(spec.Membership ?? 'accepted')) return false;
      return matchLabels(spec.Labels, nodeLabels) && matchLabels(desc.Engine?.Labels ?? {}, engineLabels);
    });
    sendJson(ctx.res, 200, out);
  });

  router.add('GET', '/nodes/:id', async (ctx) => {
    const n = await resolveNode(ctx.params.id ?? '');
    sendJson(ctx.res, 200, 'manager' in n ? managerNodeJson(deps.cluster()) : nodeJson(n));
  });

  router.add('POST', '/nodes/:id/update', async (ctx) => {
    const version = versionParam(ctx, 'node');
    const body = decodeObject(await readJson(ctx.req, 64 * 1024), 'swarm.NodeSpec') ?? {};
    const n = await resolveNode(ctx.params.id ?? '');
    const role = (field(body, 'Role') as string | undefined) ?? '';
    const availability = (field(body, 'Availability') as string | undefined) ?? '';
    // moby's convert.NodeSpecToGRPC texts
    if (!['worker', 'manager'].includes(role)) throw new ApiError(400, `invalid Role: "${role}"`);
    if (!['active', 'pause', 'drain'].includes(availability)) throw new ApiError(400, `invalid Availability: "${availability}"`);
    const labels = decodeStringMap(field(body, 'Labels'), 'NodeSpec.Labels') ?? {};
    if ('manager' in n) throw rpcError('FailedPrecondition', `node ${n.id} is this cluster's manager: it runs no tasks, so its spec can't be changed`);
    if (role !== n.spec.Spec.Role) throw rpcError('FailedPrecondition', `node ${n.id} can't change role: runsecrets has one manager, and workers join with a worker token`);
    const name = field(body, 'Name');
    // Membership: absent keeps the node's; pending -> accepted is `node accept`; an accepted node stays accepted.
    const membership = decodeString(field(body, 'Membership'), 'NodeSpec.Membership') ?? (n.spec.Spec.Membership ?? 'accepted');
    if (membership !== 'accepted' && membership !== 'pending') throw new ApiError(400, `invalid Membership: "${membership}"`);
    if (membership === 'pending' && isAccepted(n.spec)) throw rpcError('InvalidArgument', `node ${n.id} is already accepted: its membership can't go back to pending (remove the node instead)`);
    const spec: NodeRecord['Spec'] = { ...n.spec.Spec, Labels: labels, Role: role as 'worker', Membership: membership, Availability: availability as 'active' };
    if (typeof name === 'string' && name !== '') spec.Name = name;
    else delete spec.Name;
    try {
      const o = await store().update('node', n.id, version, { ...n.spec, Spec: spec });
      if (membership !== (n.spec.Spec.Membership ?? 'accepted')) ctx.log.info({ node: o.id, membership }, 'node accepted');
      ctx.log.info({ node: o.id, availability, index: o.version }, 'node updated');
      sendEmpty(ctx.res, 200);
    } catch (err) {
      if (err instanceof SequenceConflictError) throw rpcError('Unknown', 'update out of sequence');
      if (err instanceof NotFoundError) throw rpcError('NotFound', `node ${n.id} not found`);
      throw err;
    }
  });

  router.add('DELETE', '/nodes/:id', async (ctx) => {
    const force = ['1', 'true'].includes((ctx.query.get('force') ?? '').toLowerCase());
    const n = await resolveNode(ctx.params.id ?? '');
    if ('manager' in n) {
      throw rpcError('FailedPrecondition', `node ${n.id} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`);
    }
    if (!force && n.spec.Status.State === 'ready') throw rpcError('FailedPrecondition', `node ${n.id} is not down and can't be removed`);
    // Revoked first: from this moment its certificate opens no connection, even if the delete below failed.
    for (const serial of n.spec.certSerials) deps.revoke(serial);
    try {
      await store().delete('node', n.id);
    } catch (err) {
      if (err instanceof NotFoundError) throw rpcError('NotFound', `node ${n.id} not found`);
      throw err;
    }
    ctx.log.info({ node: n.id, revoked: n.spec.certSerials.length }, 'node removed; its certificates are revoked');
    sendEmpty(ctx.res, 200);
  });
}
