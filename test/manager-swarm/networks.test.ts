// The networks API against a real manager process (manager/api/networks.ts and its modules): the predefined
// networks as a swarm manager shows them, create with Docker's checks and texts, inspect and remove lookups, list
// filters, attachments in service and task specs resolved to IDs, removal refused while in use, and task label
// filters matching the service's labels (what `docker stack ps` and `stack rm` rely on).
import t from 'tap';
import { isRoot, request, startManager, waitFor, type ApiResponse } from '../helpers/manager.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const m = await startManager({ tcp: false });
t.teardown(() => m.cleanup());
const api = (method: string, path: string, body?: unknown): Promise<ApiResponse> => request(m.socket, method, path, body);
const msg = (r: ApiResponse): string => (r.json as { message?: string } | undefined)?.message ?? r.text;
const rpc = (code: string, desc: string): string => `rpc error: code = ${code} desc = ${desc}`;
const q = (f: Record<string, string[]>): string => `?filters=${encodeURIComponent(JSON.stringify(f))}`;

interface Net {
  Name: string;
  Id: string;
  Scope: string;
  Driver: string;
  Ingress: boolean;
  Internal: boolean;
  Attachable: boolean;
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
  IPAM: { Driver: string; Config: { Subnet?: string }[] };
  Containers: unknown;
}
const list = async (f?: Record<string, string[]>): Promise<Net[]> => (await api('GET', `/networks${f ? q(f) : ''}`)).json as Net[];
const names = async (f?: Record<string, string[]>): Promise<string[]> => (await list(f)).map((n) => n.Name);

async function create(body: Record<string, unknown>): Promise<string> {
  const r = await api('POST', '/networks/create', body);
  if (r.status !== 201) throw new Error(`network create: ${r.status} ${r.text}`);
  return (r.json as { Id: string }).Id;
}

function service(name: string, networks: unknown[], labels: Record<string, string> = {}, top?: unknown[]): Record<string, unknown> {
  return {
    Name: name,
    Labels: labels,
    TaskTemplate: { ContainerSpec: { Image: 'alpine', Command: ['sleep', '1d'] }, Networks: networks },
    Mode: { Replicated: { Replicas: 1 } },
    ...(top ? { Networks: top } : {}),
  };
}

t.test('predefined networks, as a swarm manager lists them', async (t) => {
  const all = await list();
  t.same(all[0] && [all[0].Name, all[0].Driver, all[0].Scope], ['ingress', 'overlay', 'swarm'], 'swarm networks first');
  const local = all.slice(1);
  t.same(
    local.map((n) => [n.Name, n.Driver, n.Scope]).sort(),
    [
      ['bridge', 'bridge', 'local'],
      ['host', 'host', 'local'],
      ['none', 'null', 'local'],
    ],
    'then the local ones',
  );
  t.same(local.map((n) => n.Id), local.map((n) => n.Id).sort(), 'each part by ID');
  const ingress = all.find((n) => n.Name === 'ingress')!;
  t.match(ingress, { Ingress: true, Containers: null, IPAM: { Driver: 'default', Config: [{ Subnet: '10.0.0.0/24' }] } });
  t.match(ingress.Id, /^[0-9a-z]{25}$/, 'a swarm ID');
  t.match(all.find((n) => n.Name === 'bridge')!.Id, /^[0-9a-f]{64}$/, 'a local network ID');
  t.same(all.find((n) => n.Name === 'bridge')!.Containers, {});
  await m.restart();
  t.same((await list()).map((n) => n.Id), all.map((n) => n.Id), 'the same IDs after a restart');

  const rmBridge = await api('DELETE', '/networks/bridge');
  t.equal(rmBridge.status, 403);
  t.equal(msg(rmBridge), 'bridge is a pre-defined network and cannot be removed');
  const rmIngress = await api('DELETE', '/networks/ingress');
  t.equal(rmIngress.status, 400);
  t.match(msg(rmIngress), /^rpc error: code = FailedPrecondition desc = network ingress \(\w+\) is a swarm predefined network and cannot be removed/);
});

t.test('create: drivers recorded, Docker texts for conflicts and refusals', async (t) => {
  const r = await api('POST', '/networks/create', { Name: 'front', Driver: 'overlay', Attachable: true, Internal: true, Labels: { a: 'b' }, Options: { encrypted: '' }, IPAM: { Config: [{ Subnet: '10.9.0.0/24' }] } });
  t.equal(r.status, 201, r.text);
  const id = (r.json as { Id: string; Warning: string }).Id;
  t.same(r.json, { Id: id, Warning: '' });
  t.match(id, /^[0-9a-z]{25}$/);
  const got = (await api('GET', '/networks/front')).json as Net;
  t.match(got, { Name: 'front', Id: id, Scope: 'swarm', Driver: 'overlay', Attachable: true, Internal: true, Ingress: false, Labels: { a: 'b' }, Options: { encrypted: '' }, Containers: null });
  t.same(got.IPAM.Config, [{ Subnet: '10.9.0.0/24' }], 'IPAM as asked: nothing is allocated');

  const local = await create({ Name: 'lan', Driver: 'macvlan' });
  t.match(local, /^[0-9a-f]{64}$/, 'a local-scope driver gets an engine ID');
  t.match((await api('GET', `/networks/${local}`)).json, { Name: 'lan', Scope: 'local', Driver: 'macvlan', Containers: {} });
  t.match((await api('GET', '/networks/lan2')).status, 404);

  const cases: [Record<string, unknown>, number, string][] = [
    [{ Name: 'front', Driver: 'overlay' }, 409, 'network with name front already exists'],
    [{ Name: 'FRONT', Driver: 'overlay' }, 409, 'network with name FRONT already exists'],
    [{ Name: 'ingress', Driver: 'overlay' }, 409, 'network with name ingress already exists'],
    [{ Name: 'bridge', Driver: 'bridge' }, 409, 'network with name bridge already exists'],
    [{ Name: 'none', Driver: 'bridge' }, 403, 'operation is not permitted on predefined none network '],
    [{ Name: 'x1', Driver: 'nosuch' }, 404, 'plugin "nosuch" not found'],
    [{ Name: 'x2', Driver: 'host' }, 403, 'only one instance of "host" network is allowed'],
    [{ Name: 'x3', Driver: 'overlay', Ingress: true }, 409, rpc('AlreadyExists', 'ingress network (')],
    [{ Name: 'x4', Driver: 'overlay', Ingress: true, Attachable: true }, 400, rpc('InvalidArgument', 'ingress network cannot be attachable')],
    [{ Name: 'x5', Driver: 'overlay', Labels: { 'com.docker.swarm.predefined': 'true' } }, 403, 'label com.docker.swarm.predefined is for internally created predefined networks'],
    [{ Name: 'x6', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.1.2.0' }] } }, 400, 'invalid subnet 10.1.2.0 : invalid CIDR address: 10.1.2.0'],
    [{ Name: 'x7', Internal: 'yes' }, 400, 'invalid JSON: json: cannot unmarshal string into Go struct field CreateRequest.Internal of type bool'],
    [{ Name: '', Driver: 'overlay' }, 400, rpc('InvalidArgument', 'meta: name must be provided')],
  ];
  for (const [body, status, text] of cases) {
    const c = await api('POST', '/networks/create', body);
    t.equal(c.status, status, `${JSON.stringify(body)}: ${c.status}`);
    t.match(msg(c), text);
  }
  // case-insensitive keys, as Go decodes them
  const ci = await api('POST', '/networks/create', { name: 'lower', driver: 'overlay', labels: { k: 'v' } });
  t.equal(ci.status, 201, ci.text);
  t.match((await api('GET', '/networks/lower')).json, { Driver: 'overlay', Labels: { k: 'v' } });
});

t.test('inspect and remove lookups: ID, name, ID prefix; Docker texts', async (t) => {
  const id = await create({ Name: 'lookup', Driver: 'overlay' });
  t.equal(((await api('GET', `/networks/${id.slice(0, 6)}`)).json as Net).Name, 'lookup', 'by ID prefix');
  t.equal(((await api('GET', `/networks/${id}`)).json as Net).Name, 'lookup', 'by ID');
  const missing = await api('GET', '/networks/nosuchnet');
  t.equal(missing.status, 404);
  t.equal(msg(missing), 'network nosuchnet not found');
  const bad = await api('GET', '/networks/lookup?verbose=maybe');
  t.equal(bad.status, 400);
  t.equal(msg(bad), 'invalid value for verbose: maybe: strconv.ParseBool: parsing "maybe": invalid syntax');
  // Swarm's own bridge is found by scope=swarm (as moby's cluster lookup), never listed.
  const swarmBridge = (await api('GET', '/networks/bridge?scope=swarm')).json as Net;
  t.match(swarmBridge, { Name: 'bridge', Scope: 'swarm', Labels: { 'com.docker.swarm.predefined': 'true' } });
  t.notOk((await list()).some((n) => n.Id === swarmBridge.Id), 'not listed');
  t.equal(((await api('GET', '/networks/bridge')).json as Net).Scope, 'local', 'bridge is the local one by default');

  const rm = await api('DELETE', `/networks/${id.slice(0, 8)}`);
  t.equal(rm.status, 204, rm.text);
  t.equal(rm.text, '');
  const again = await api('DELETE', '/networks/lookup');
  t.equal(again.status, 404);
  t.equal(msg(again), 'network lookup not found');
});

t.test('list filters: name, id, label, driver, scope, type, dangling; bad ones refused', async (t) => {
  await create({ Name: 'flt_a', Driver: 'overlay', Labels: { stack: 's1', tier: 'web' } });
  await create({ Name: 'flt_b', Driver: 'overlay', Labels: { stack: 's1' } });
  await create({ Name: 'flt_c', Driver: 'bridge', Labels: { stack: 's2' } });
  t.same((await names({ label: ['stack=s1'] })).sort(), ['flt_a', 'flt_b']);
  t.same(await names({ label: ['stack=s1', 'tier'] }), ['flt_a'], 'labels AND-ed, key-only matches any value');
  t.same((await names({ name: ['flt_'] })).sort(), ['flt_a', 'flt_b', 'flt_c'], 'name: a regular expression, found anywhere');
  t.same(await names({ name: ['^flt_[c]$'] }), ['flt_c']);
  t.same((await names({ driver: ['bridge'] })).sort(), ['bridge', 'flt_c']);
  t.same((await names({ scope: ['swarm'], label: ['stack'] })).sort(), ['flt_a', 'flt_b']);
  t.same((await names({ type: ['builtin'] })).sort(), ['bridge', 'host', 'none']);
  t.notOk((await names({ type: ['custom'] })).includes('bridge'));
  const ingressId = (await list()).find((n) => n.Name === 'ingress')!.Id;
  t.same(await names({ id: [ingressId] }), ['ingress']);
  t.same((await names({ dangling: ['true'], label: ['stack'] })).sort(), ['flt_a', 'flt_b', 'flt_c']);
  const errs: [Record<string, string[]>, string][] = [
    [{ nosuch: ['x'] }, "invalid filter 'nosuch'"],
    [{ type: ['other'] }, "invalid filter: 'type'='other'"],
    [{ dangling: ['maybe'] }, 'invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")'],
    [{ dangling: ['true', 'false'] }, 'got more than one value for filter key "dangling"'],
  ];
  for (const [f, text] of errs) {
    const r = await api('GET', `/networks${q(f)}`);
    t.equal(r.status, 400);
    t.equal(msg(r), text);
  }
});

t.test('service attachments: targets resolved to IDs, kept in service and task specs; removal refused while used', async (t) => {
  const net = await create({ Name: 'svcnet', Driver: 'overlay' });
  const r = await api('POST', '/services/create', service('attached', [{ target: 'svcnet', aliases: ['web'] }], { 'com.docker.stack.namespace': 'st' }));
  t.equal(r.status, 201, r.text);
  const sid = (r.json as { ID: string }).ID;
  const svc = (await api('GET', '/services/attached')).json as { Version: { Index: number }; Spec: { TaskTemplate: { Networks: unknown[] } } & Record<string, unknown> };
  t.same(svc.Spec.TaskTemplate.Networks, [{ Target: net, Aliases: ['web'] }], 'Target is the network ID, keys in Go case');
  const tasks = await waitFor(async () => {
    const l = (await api('GET', `/tasks${q({ service: ['attached'] })}`)).json as { ID: string; Labels: unknown; Spec: { Networks?: unknown[] } }[];
    return l.length > 0 ? l : null;
  }, 'the task of the service');
  t.same(tasks[0]!.Spec.Networks, [{ Target: net, Aliases: ['web'] }], 'the task spec carries the attachment');
  t.same(tasks[0]!.Labels, {}, "the task's own labels, as Docker's, are empty");

  // Task label filters match the service's labels (swarmkit ServiceAnnotations).
  const byLabel = (await api('GET', `/tasks${q({ label: ['com.docker.stack.namespace=st'] })}`)).json as { ID: string }[];
  t.same(byLabel.map((x) => x.ID), [tasks[0]!.ID]);
  t.same((await api('GET', `/tasks${q({ label: ['com.docker.stack.namespace=other'] })}`)).json, []);
  t.same(((await api('GET', `/tasks${q({ label: ['com.docker.stack.namespace'] })}`)).json as unknown[]).length, 1, 'key only');

  const inUse = await api('DELETE', '/networks/svcnet');
  t.equal(inUse.status, 400);
  t.equal(msg(inUse), rpc('FailedPrecondition', `network ${net} is in use by service ${sid}`));

  // A redeploy naming the network again stores the same spec: the task is kept.
  const up = await api('POST', `/services/${sid}/update?version=${svc.Version.Index}`, service('attached', [{ Target: 'svcnet', Aliases: ['web'] }], { 'com.docker.stack.namespace': 'st' }));
  t.equal(up.status, 200, up.text);
  t.same(((await api('GET', '/services/attached')).json as { Spec: { TaskTemplate: { Networks: unknown[] } } }).Spec.TaskTemplate.Networks, [{ Target: net, Aliases: ['web'] }]);

  // The deprecated ServiceSpec.Networks is resolved too.
  const top = await api('POST', '/services/create', service('toplevel', [], {}, [{ Target: net.slice(0, 10) }]));
  t.equal(top.status, 201, top.text);
  t.same(((await api('GET', '/services/toplevel')).json as { Spec: { Networks: unknown[] } }).Spec.Networks, [{ Target: net }]);

  // bridge and host name Swarm's own networks; none, ingress, local and unknown networks are refused.
  const br = await api('POST', '/services/create', service('onbridge', [{ Target: 'bridge' }]));
  t.equal(br.status, 201, br.text);
  const swarmBridge = ((await api('GET', '/networks/bridge?scope=swarm')).json as Net).Id;
  t.same(((await api('GET', '/services/onbridge')).json as { Spec: { TaskTemplate: { Networks: unknown[] } } }).Spec.TaskTemplate.Networks, [{ Target: swarmBridge }]);
  const refusals: [string, number, string][] = [
    ['none', 404, 'could not find the corresponding predefined swarm network: network none not found'],
    ['ingress', 400, rpc('InvalidArgument', 'Service cannot be explicitly attached to the ingress network "ingress"')],
    ['lan', 403, 'The network lan cannot be used with services. Only networks scoped to the swarm can be used, such as those created with the overlay driver.'],
    ['nosuchnet', 404, 'network nosuchnet not found'],
  ];
  for (const [target, status, text] of refusals) {
    const c = await api('POST', '/services/create', service(`bad-${target}`, [{ Target: target }]));
    t.equal(c.status, status, `${target}: ${c.text}`);
    t.equal(msg(c), text);
  }

  for (const s of ['attached', 'toplevel', 'onbridge']) t.equal((await api('DELETE', `/services/${s}`)).status, 200);
  // Tasks of removed services do not hold the network (unlike swarmkit, where `stack rm` can fail on them).
  const rm = await api('DELETE', '/networks/svcnet');
  t.equal(rm.status, 204, rm.text);
});

t.test('bad types are 400s with Go decoder texts, never 500s', async (t) => {
  const bodies: unknown[] = [
    { Name: 'b1', Labels: { a: 1 } },
    { Name: 'b2', IPAM: { Config: 'x' } },
    { Name: 'b3', IPAM: 'x' },
    { Name: 'b4', Options: ['x'] },
    { Name: 7 },
    ['x'],
  ];
  for (const b of bodies) {
    const r = await api('POST', '/networks/create', b);
    t.equal(r.status, 400, `${JSON.stringify(b)}: ${msg(r)}`);
    t.match(msg(r), /^invalid JSON: /);
  }
  const specs: unknown[] = [
    { Networks: 'x' },
    { Networks: [{ Target: 5 }] },
    { Networks: [{ Target: 'svcnet2', Aliases: 'web' }] },
    { Networks: [{ Target: 'svcnet2', DriverOpts: { a: 1 } }] },
  ];
  await create({ Name: 'svcnet2', Driver: 'overlay' });
  for (const tt of specs) {
    const r = await api('POST', '/services/create', { Name: 'badnet', TaskTemplate: { ContainerSpec: { Image: 'alpine' }, ...(tt as object) } });
    t.equal(r.status, 400, `${JSON.stringify(tt)}: ${msg(r)}`);
    t.match(msg(r), /^invalid JSON: /);
  }
});
