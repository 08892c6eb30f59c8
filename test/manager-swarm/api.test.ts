// Services, tasks and nodes over the Docker Engine API against a real manager process (no agents: no nodes but the
// manager, so tasks stay pending): Docker's shapes, texts and codes, version checks, reference validation, and the
// refusal to remove a secret or config that a service uses.
import t from 'tap';
import { isRoot, request, startManager, waitFor, type ApiResponse } from '../helpers/manager.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const m = await startManager();
t.teardown(() => m.cleanup());
const api = (method: string, path: string, body?: unknown): Promise<ApiResponse> => request(m.socket, method, path, body);
const msg = (r: ApiResponse): string => (r.json as { message?: string } | undefined)?.message ?? r.text;
const rpc = (code: string, desc: string): string => `rpc error: code = ${code} desc = ${desc}`;

async function createObject(kind: 'secret' | 'config', name: string): Promise<string> {
  const r = await api('POST', `/${kind}s/create`, { Name: name, Data: Buffer.from('x').toString('base64') });
  if (r.status !== 201) throw new Error(`create ${kind} ${name}: ${r.status} ${r.text}`);
  return (r.json as { ID: string }).ID;
}
const ref = (id: string, name: string, target = name): Record<string, unknown> => ({ SecretID: id, SecretName: name, File: { Name: target, UID: '0', GID: '0', Mode: 0o444 } });
const cref = (id: string, name: string, target = name): Record<string, unknown> => ({ ConfigID: id, ConfigName: name, File: { Name: target, UID: '0', GID: '0', Mode: 0o444 } });

function svc(name: string, o: { replicas?: number; secrets?: unknown[]; configs?: unknown[]; extra?: Record<string, unknown>; image?: string } = {}): Record<string, unknown> {
  return {
    Name: name,
    Labels: { team: 'a' },
    TaskTemplate: {
      ContainerSpec: { Image: o.image ?? 'alpine', Command: ['sleep'], Args: ['1d'], Env: ['A=1'], User: '1000:1000', Secrets: o.secrets ?? [], Configs: o.configs ?? [] },
      RestartPolicy: { Condition: 'on-failure', Delay: 1_000_000_000, MaxAttempts: 3 },
      Placement: { Constraints: ['node.role==worker'] },
      ForceUpdate: 0,
    },
    Mode: { Replicated: { Replicas: o.replicas ?? 1 } },
    ...o.extra,
  };
}

async function createService(body: Record<string, unknown>): Promise<string> {
  const r = await api('POST', '/v1.47/services/create', body);
  if (r.status !== 201) throw new Error(`create service: ${r.status} ${r.text}`);
  return (r.json as { ID: string }).ID;
}

interface Svc {
  ID: string;
  Version: { Index: number };
  Spec: Record<string, unknown>;
  PreviousSpec?: Record<string, unknown>;
  ServiceStatus?: unknown;
}
interface Task {
  ID: string;
  ServiceID: string;
  Slot?: number;
  NodeID?: string;
  Status: { State: string; Message: string; Err?: string };
  DesiredState: string;
}

t.test('service create, inspect (ID, name, prefix), list with status; the spec as Docker returns it', async (t) => {
  const extra = { UpdateConfig: { Parallelism: 2, Order: 'start-first' }, EndpointSpec: { Mode: 'vip' } };
  const id = await createService(svc('web', { replicas: 2, extra }));
  t.match(id, /^[0-9a-z]{25}$/);
  for (const p of [`/services/${id}`, '/v1.47/services/web', `/services/${id.slice(0, 5)}`]) {
    const r = await api('GET', p);
    t.equal(r.status, 200, p);
    const s = r.json as Svc;
    t.equal(s.ID, id);
    // As moby converts it (service-specs.test.ts has the field-by-field comparisons): empty lists omitted,
    // Isolation, Runtime and the update config's FailureAction and MaxFailureRatio filled in.
    const want = svc('web', { replicas: 2, extra }) as { TaskTemplate: Record<string, unknown>; UpdateConfig: Record<string, unknown> };
    const cs: Record<string, unknown> = { ...(want.TaskTemplate.ContainerSpec as Record<string, unknown>), Isolation: 'default' };
    delete cs.Secrets;
    delete cs.Configs;
    want.TaskTemplate = { ...want.TaskTemplate, ContainerSpec: cs, Runtime: 'container' };
    want.UpdateConfig = { Parallelism: 2, FailureAction: 'pause', MaxFailureRatio: 0, Order: 'start-first' };
    t.same(s.Spec, want, 'the spec as Docker returns it');
  }
  const l = await api('GET', '/services?status=true');
  t.match(l.json, [{ ID: id, ServiceStatus: { RunningTasks: 0, DesiredTasks: 2 } }]);
  t.notOk(((await api('GET', '/services')).json as Svc[])[0]!.ServiceStatus, 'status only when asked');
  t.equal(((await api('GET', '/services?filters={"name":["we"]}')).json as Svc[]).length, 1);
  t.equal(((await api('GET', '/services?filters={"mode":["global"]}')).json as Svc[]).length, 0);
  t.equal(msg(await api('GET', '/services/nope')), 'service nope not found');
  t.equal(msg(await api('GET', '/services/WEB')), 'service WEB not found', 'names resolve case-sensitively, as in swarmkit');
  t.equal(((await api('GET', '/services?filters={"name":["We"]}')).json as Svc[]).length, 0);

  // Mode defaults to one replica, as moby's conversion does.
  const bare = await createService({ Name: 'bare', TaskTemplate: { ContainerSpec: { Image: 'alpine' } } });
  t.same(((await api('GET', `/services/${bare}`)).json as Svc).Spec.Mode, { Replicated: { Replicas: 1 } });

  // Tasks: no node but the manager (which runs none), so they wait with Docker's words.
  const tasks = await waitFor(async () => {
    const r = (await api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { web: true } }))}`)).json as Task[];
    return r.length === 2 ? r : null;
  }, 'two tasks for web');
  for (const task of tasks) {
    t.match(task, { ServiceID: id, DesiredState: 'running', Status: { State: 'pending', Message: 'pending task scheduling', Err: 'no suitable node' } });
    t.notOk('NodeID' in task);
  }
  t.same(tasks.map((x) => x.Slot).sort(), [1, 2]);
  const one = await api('GET', `/tasks/${tasks[0]!.ID}`);
  t.same(Object.keys(one.json as object), ['ID', 'Version', 'CreatedAt', 'UpdatedAt', 'Labels', 'Spec', 'ServiceID', 'Slot', 'Status', 'DesiredState']);
  t.equal(((await api('GET', `/tasks/${tasks[0]!.ID.slice(0, 8)}`)).json as Task).ID, tasks[0]!.ID, 'by ID prefix');
  const q = (f: unknown): Promise<ApiResponse> => api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify(f))}`);
  t.equal(((await q({ name: ['web.1'] })).json as Task[]).length, 1);
  t.equal(((await q({ 'desired-state': ['shutdown'] })).json as Task[]).length, 0);
  t.equal(((await q({ id: [tasks[1]!.ID.slice(0, 10)] })).json as Task[]).length, 1);
  t.equal(msg(await q({ node: ['nonode'] })), 'node nonode not found');
  t.equal(msg(await q({ service: ['nosvc'] })), 'service nosvc not found');
  t.equal(msg(await q({ bogus: ['x'] })), "invalid filter 'bogus'");
  t.equal((await api('GET', '/tasks/zzzz')).status, 404);
});

t.test('create errors: Docker texts and codes', async (t) => {
  const cases: [unknown, number, string][] = [
    [svc('web'), 409, rpc('AlreadyExists', 'name conflicts with an existing object: service web already exists')],
    [svc('Web'), 409, rpc('AlreadyExists', 'name conflicts with an existing object: service Web already exists')],
    [{ ...svc('x'), Name: '' }, 400, rpc('InvalidArgument', 'meta: name must be provided')],
    [svc('bad.name'), 400, rpc('InvalidArgument', 'name must be valid as a DNS name component')],
    [svc('-x'), 400, rpc('InvalidArgument', 'name must be valid as a DNS name component')],
    [svc('x'.repeat(64)), 400, rpc('InvalidArgument', 'name must be valid as a DNS name component')],
    [{ Name: 'x', TaskTemplate: {} }, 400, 'mismatched Runtime and *Spec fields'],
    [{ ...svc('x'), Mode: { Replicated: { Replicas: 1 }, Global: {} } }, 400, 'must specify only one service mode'],
    [{ ...svc('x'), TaskTemplate: { ContainerSpec: {}, RestartPolicy: { Condition: 'sometimes' } } }, 400, 'invalid RestartCondition: "sometimes"'],
    [{ ...svc('x'), TaskTemplate: { ContainerSpec: {}, Placement: { Constraints: ['node.id'] } } }, 400, rpc('InvalidArgument', 'constraint expects one operator from ==, !=')],
    [{ ...svc('x'), TaskTemplate: { ContainerSpec: { User: 'root' } } }, 400, rpc('InvalidArgument', 'ContainerSpec: invalid User "root": runsecrets runs tasks as a numeric uid[:gid]')],
    [{ ...svc('x'), TaskTemplate: { ContainerSpec: { Command: 'sleep' } } }, 400, 'invalid JSON: json: cannot unmarshal string into Go struct field ContainerSpec.TaskTemplate.ContainerSpec.Command of type []string'],
    [{ ...svc('x'), Mode: { Replicated: { Replicas: -1 } } }, 400, 'invalid JSON: json: cannot unmarshal number -1 into Go struct field ReplicatedService.Mode.Replicated.Replicas of type uint64'],
  ];
  for (const [body, status, text] of cases) {
    const r = await api('POST', '/services/create', body);
    t.equal(r.status, status, text);
    t.equal(msg(r), text);
  }
});

t.test('secret and config references: existence, stored name, malformed, conflicting targets', async (t) => {
  const a = await createObject('secret', 'ref_a');
  const b = await createObject('secret', 'ref_b');
  const c = await createObject('config', 'ref_c');
  const cases: [unknown[], unknown[], string][] = [
    [[ref('0'.repeat(25), 'ghost')], [], 'secret not found: ghost'],
    [[ref(a, 'REF_A')], [], 'secret not found: REF_A'],
    [[ref(a, 'ref_b')], [], 'secret not found: ref_b'],
    [[ref('1'.repeat(25), 'g1'), ref('2'.repeat(25), 'g2')], [], 'secrets not found: g1, g2'],
    [[{ SecretName: 'ref_a', File: { Name: 'x' } }], [], 'malformed secret reference'],
    [[{ SecretID: a, SecretName: 'ref_a' }], [], 'malformed secret reference, no target provided'],
    [[ref(a, 'ref_a', '')], [], 'malformed file secret reference, invalid target file name provided'],
    [[ref(a, 'ref_a', 'same'), ref(b, 'ref_b', 'same')], [], "secret references 'ref_a' and 'ref_b' have a conflicting target: 'same'"],
    [[], [cref('3'.repeat(25), 'nocfg')], 'config not found: nocfg'],
    [[], [cref(c, 'ref_c', 't'), cref(c, 'ref_c', 't')], "config references 'ref_c' and 'ref_c' have a conflicting target: 't'"],
  ];
  for (const [secrets, configs, text] of cases) {
    const r = await api('POST', '/services/create', svc('refs', { secrets, configs }));
    t.equal(r.status, 400, text);
    t.equal(msg(r), rpc('InvalidArgument', text));
  }
  // A config reference with neither target: moby's conversion refuses it before swarmkit sees it.
  const none = await api('POST', '/services/create', svc('refs', { configs: [{ ConfigID: c, ConfigName: 'ref_c' }] }));
  t.equal(none.status, 400);
  t.equal(msg(none), 'either File or Runtime should be set');
  // A secret and a config may share a target (checked separately, as swarmkit does).
  const ok = await createService(svc('refs', { secrets: [ref(a, 'ref_a', 'same')], configs: [cref(c, 'ref_c', 'same')] }));
  t.ok(ok);
  t.equal((await api('DELETE', `/services/${ok}`)).status, 200);
});

t.test('secret and config rm refused while a service uses them (singular, plural)', async (t) => {
  const s = await createObject('secret', 'inuse');
  const c = await createObject('config', 'inuse.conf');
  const one = await createService(svc('user1', { secrets: [ref(s, 'inuse')], configs: [cref(c, 'inuse.conf')] }));
  let r = await api('DELETE', '/secrets/inuse');
  t.equal(r.status, 400);
  t.equal(msg(r), rpc('InvalidArgument', "secret 'inuse' is in use by the following service: user1"));
  r = await api('DELETE', `/configs/${c}`);
  t.equal(msg(r), rpc('InvalidArgument', "config 'inuse.conf' is in use by the following service: user1"));
  const two = await createService(svc('user2', { secrets: [ref(s, 'inuse', 'other')] }));
  const names = [one, two].map((id, i) => ({ id, name: `user${i + 1}` })).sort((x, y) => (x.id < y.id ? -1 : 1));
  r = await api('DELETE', `/secrets/${s}`);
  t.equal(msg(r), rpc('InvalidArgument', `secret 'inuse' is in use by the following services: ${names.map((x) => x.name).join(', ')}`));
  // Removing the grant from both services frees it.
  for (const id of [one, two]) {
    const cur = (await api('GET', `/services/${id}`)).json as Svc;
    const spec = structuredClone(cur.Spec) as { TaskTemplate: { ContainerSpec: { Secrets: unknown[]; Configs: unknown[] } } };
    spec.TaskTemplate.ContainerSpec.Secrets = [];
    spec.TaskTemplate.ContainerSpec.Configs = [];
    t.equal((await api('POST', `/services/${id}/update?version=${cur.Version.Index}`, spec)).status, 200);
  }
  t.equal((await api('DELETE', `/secrets/${s}`)).status, 204);
  t.equal((await api('DELETE', `/configs/${c}`)).status, 204);
  for (const id of [one, two]) t.equal((await api('DELETE', `/services/${id}`)).status, 200);
});

t.test('service update: version check, out of sequence, rename and mode change refused, secrets-only keeps tasks under the live label', async (t) => {
  const s1 = await createObject('secret', 'up_a');
  const s2 = await createObject('secret', 'up_b');
  const live = { Labels: { team: 'a', 'com.runsecrets.secret-update': 'live' } };
  const id = await createService(svc('upd', { replicas: 2, secrets: [ref(s1, 'up_a')], extra: live }));
  const taskIds = async (): Promise<string[]> =>
    ((await api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [id], 'desired-state': ['running'] }))}`)).json as Task[])
      .map((x) => x.ID)
      .sort();
  const before = await waitFor(async () => ((await taskIds()).length === 2 ? await taskIds() : null), 'two tasks');
  const cur = (await api('GET', `/services/${id}`)).json as Svc;
  const v = cur.Version.Index;
  let r = await api('POST', `/services/${id}/update?version=abc`, svc('upd'));
  t.equal(r.status, 400);
  t.equal(msg(r), `invalid service version 'abc': strconv.ParseUint: parsing "abc": invalid syntax`);
  r = await api('POST', `/services/${id}/update?version=${v + 1000}`, svc('upd', { replicas: 2 }));
  t.equal(r.status, 500);
  t.equal(msg(r), rpc('Unknown', 'update out of sequence'));
  r = await api('POST', `/services/${id}/update?version=${v}`, svc('renamed'));
  t.equal(r.status, 501);
  t.equal(msg(r), rpc('Unimplemented', 'renaming services is not supported'));
  r = await api('POST', `/services/${id}/update?version=${v}`, { ...svc('upd'), Mode: { Global: {} } });
  t.equal(msg(r), rpc('Unimplemented', 'service mode change is not allowed'));
  r = await api('POST', `/services/${id}/update?version=${v}`, svc('upd', { replicas: 2, secrets: [ref(s1, 'wrong')] }));
  t.equal(msg(r), rpc('InvalidArgument', 'secret not found: wrong'));

  r = await api('POST', `/services/${id}/update?version=${v}`, svc('upd', { replicas: 2, secrets: [ref(s1, 'up_a')], extra: { Labels: { 'com.runsecrets.secret-update': 'restart' } } }));
  t.equal(msg(r), rpc('InvalidArgument', 'invalid label com.runsecrets.secret-update=restart: want replace, live or signal:SIGNAME (one of SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH, SIGCONT, SIGALRM, SIGIO, SIGPWR)'));
  r = await api('POST', `/services/${id}/update?version=${v}&rollback=sideways`, svc('upd', { replicas: 2 }));
  t.equal(msg(r), 'unrecognized rollback option sideways');
  r = await api('POST', `/services/${id}/update?version=${v}&rollback=previous`, svc('upd', { replicas: 2 }));
  t.equal(msg(r), rpc('FailedPrecondition', `service ${id} does not have a previous spec`));

  r = await api('POST', `/services/${id}/update?version=${v}`, svc('upd', { replicas: 2, secrets: [ref(s2, 'up_b', 'up_a')], extra: live }));
  t.equal(r.status, 200, r.text);
  const after = (await api('GET', `/services/${id}`)).json as Svc;
  t.ok(after.Version.Index > v);
  t.same(after.PreviousSpec, cur.Spec, 'the previous spec is kept');
  // The orchestrator updates the tasks' refs in place: same tasks, new refs.
  await waitFor(async () => {
    const ts = ((await api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [id] }))}`)).json as (Task & { Spec: { ContainerSpec: { Secrets: { SecretID: string }[] } } })[]);
    return ts.length === 2 && ts.every((x) => x.Spec.ContainerSpec.Secrets[0]?.SecretID === s2);
  }, 'the tasks to carry the new secret');
  t.same(await taskIds(), before, 'secrets-only update: no task replaced');
  t.equal(msg(await api('POST', `/services/${id}/update?version=${v}`, svc('upd', { replicas: 2 }))), rpc('Unknown', 'update out of sequence'), 'the old version is stale now');

  t.notOk((after as { UpdateStatus?: unknown }).UpdateStatus, 'nothing replaced: no UpdateStatus');

  // No agent here: new tasks stay pending, so only Parallelism 0 gets both slots going.
  const cur2 = (await api('GET', `/services/${id}`)).json as Svc;
  r = await api('POST', `/services/${id}/update?version=${cur2.Version.Index}`, svc('upd', { replicas: 2, secrets: [ref(s2, 'up_b', 'up_a')], image: 'alpine:3', extra: { ...live, UpdateConfig: { Parallelism: 0 } } }));
  t.equal(r.status, 200);
  await waitFor(async () => {
    const now = await taskIds();
    return now.length === 2 && !now.some((x) => before.includes(x));
  }, 'an image change to replace both tasks');
  const updating = (await api('GET', `/services/${id}`)).json as { UpdateStatus?: { State: string; Message: string; StartedAt: string } };
  t.match(updating.UpdateStatus, { State: 'updating', Message: 'update in progress', StartedAt: String }, 'UpdateStatus shown while the new tasks wait');
  const cur3 = (await api('GET', `/services/${id}`)).json as Svc;
  r = await api('POST', `/services/${id}/update?version=${cur3.Version.Index}&rollback=previous`, svc('upd'));
  t.equal(r.status, 200, r.text);
  const back = (await api('GET', `/services/${id}`)).json as Svc & { UpdateStatus?: { State: string; Message: string } };
  t.same(back.Spec, cur3.PreviousSpec, 'rollback: the previous spec back');
  t.same(back.PreviousSpec, cur3.Spec, 'and the rolled-back one kept as previous');
  t.match(back.UpdateStatus, { State: 'rollback_started', Message: 'manually requested rollback' });

  t.equal((await api('DELETE', '/services/upd')).status, 200);
  t.equal((await api('GET', `/services/${id}`)).status, 404);
  // Its tasks never reached a node, so they go at once.
  await waitFor(async () => ((await api('GET', '/tasks')).json as Task[]).every((x) => x.ServiceID !== id), 'the tasks of the removed service to go');
});

t.test('nodes: the manager is listed, and cannot be removed or updated', async (t) => {
  const l = (await api('GET', '/nodes')).json as { ID: string; Spec: { Role: string }; ManagerStatus?: { Leader: boolean } }[];
  t.equal(l.length, 1);
  t.match(l[0], { Spec: { Role: 'manager' }, ManagerStatus: { Leader: true } });
  const id = l[0]!.ID;
  t.equal(((await api('GET', `/v1.47/nodes/${id.slice(0, 4)}`)).json as { ID: string }).ID, id);
  let r = await api('DELETE', `/nodes/${id}`);
  t.equal(r.status, 400);
  t.equal(msg(r), rpc('FailedPrecondition', `node ${id} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`));
  r = await api('POST', `/nodes/${id}/update?version=1`, { Role: 'manager', Availability: 'bogus' });
  t.equal(msg(r), 'invalid Availability: "bogus"');
  r = await api('POST', `/nodes/${id}/update?version=x`, { Role: 'manager', Availability: 'drain' });
  t.equal(msg(r), `invalid node version 'x': strconv.ParseUint: parsing "x": invalid syntax`);
  t.equal(msg(await api('GET', '/nodes/nonode')), 'node nonode not found');
});

t.test('a manager restart keeps services and tasks as they were (no duplicate tasks)', async (t) => {
  const id = await createService(svc('persist', { replicas: 2 }));
  const ids = async (): Promise<string[]> =>
    ((await api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [id] }))}`)).json as Task[]).map((x) => x.ID).sort();
  const before = await waitFor(async () => ((await ids()).length === 2 ? await ids() : null), 'two tasks');
  await m.restart();
  t.equal(((await api('GET', `/services/${id}`)).json as Svc).Spec.Name, 'persist');
  // A write through the orchestrator's watch proves it runs again; the tasks must still be the same two.
  const other = await createService(svc('after', { replicas: 1 }));
  await waitFor(async () => ((await api('GET', '/tasks')).json as Task[]).some((x) => x.ServiceID === other), 'the orchestrator to run after the restart');
  t.same(await ids(), before);
});
