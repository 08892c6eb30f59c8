// The Docker Engine API subset against a real manager process: Docker's shapes, texts and status codes.
import t from 'tap';
import { isRoot, request, startManager, type ApiResponse } from '../helpers/manager.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const m = await startManager();
t.teardown(() => m.cleanup());
const api = (method: string, path: string, body?: unknown, headers?: Record<string, string | number>): Promise<ApiResponse> =>
  request(m.socket, method, path, body, headers);
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const msg = (r: ApiResponse): string => (r.json as { message?: string } | undefined)?.message ?? r.text;

async function create(kind: 'secret' | 'config', name: string, data: string | Buffer = 'x', labels?: Record<string, string>): Promise<string> {
  const r = await api('POST', `/v1.47/${kind}s/create`, { Name: name, Labels: labels ?? {}, Data: b64(data) });
  if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.text}`);
  return (r.json as { ID: string }).ID;
}

t.test('_ping, version, info', async (t) => {
  const p = await api('GET', '/_ping');
  t.equal(p.status, 200);
  t.equal(p.text, 'OK');
  t.equal(p.headers['api-version'], '1.47');
  t.equal(p.headers['swarm'], 'active/manager');
  const h = await api('HEAD', '/_ping');
  t.equal(h.status, 200);
  t.equal(h.text, '');
  t.equal(h.headers['swarm'], 'active/manager');
  const v = await api('GET', '/v1.47/version');
  t.match(v.json, { ApiVersion: '1.47', MinAPIVersion: '1.24', Os: 'linux' });
  const i = await api('GET', '/info');
  t.match(i.json, { Swarm: { LocalNodeState: 'active', ControlAvailable: true, Nodes: 1, Managers: 1, Cluster: { ID: String } } });
  t.equal((await api('GET', '/v1.99/_ping')).status, 400, 'too new an API version');
  t.match(msg(await api('GET', '/v1.99/secrets')), 'client version 1.99 is too new. Maximum supported API version is 1.47');
  t.match(msg(await api('GET', '/v1.12/secrets')), /^client version 1.12 is too old. Minimum supported API version is 1.24/);
  const nf = await api('GET', '/images/json');
  t.equal(nf.status, 501, 'a route runsecrets does not serve: 501');
  t.match((nf.json as { message: string }).message, /^runsecrets does not serve GET \/images\/json: /, 'naming the route');
  const none = await api('GET', '/nothing/here');
  t.same([none.status, none.json], [404, { message: 'page not found' }], "not a Docker route: Docker's own 404");
});

t.test('secret create, inspect, list: Docker shapes; data never returned', async (t) => {
  const id = await create('secret', 'db_pw', 'hunter2', { env: 'dev' });
  t.match(id, /^[0-9a-z]{25}$/);
  for (const path of [`/secrets/${id}`, `/v1.47/secrets/${id}`, '/secrets/db_pw', '/secrets/DB_PW', `/secrets/${id.slice(0, 6)}`]) {
    const r = await api('GET', path);
    t.equal(r.status, 200, path);
    const o = r.json as Record<string, unknown>;
    t.same(Object.keys(o), ['ID', 'Version', 'CreatedAt', 'UpdatedAt', 'Spec'], 'field order');
    t.same(o.Spec, { Name: 'db_pw', Labels: { env: 'dev' } }, 'no Data');
    t.match(o.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    t.notOk(r.text.includes(b64('hunter2')));
  }
  const l = await api('GET', '/secrets');
  t.notOk(l.text.includes(b64('hunter2')), 'list never carries data');
  const none = await create('secret', 'nolabels');
  t.same(((await api('GET', `/secrets/${none}`)).json as { Spec: unknown }).Spec, { Name: 'nolabels', Labels: null });
});

t.test('config data is returned', async (t) => {
  const id = await create('config', 'app.conf', 'hello\n');
  const r = await api('GET', `/configs/${id}`);
  t.same((r.json as { Spec: unknown }).Spec, { Name: 'app.conf', Labels: null, Data: b64('hello\n') });
  t.equal(((await api('GET', '/configs')).json as unknown[]).length, 1);
});

t.test('create errors: Docker texts and codes', async (t) => {
  await create('secret', 'taken');
  const cases: [string, unknown, number, string][] = [
    ['secret', { Name: 'taken', Data: b64('x') }, 409, 'rpc error: code = AlreadyExists desc = secret taken already exists'],
    ['secret', { Name: 'TAKEN', Data: b64('x') }, 409, 'rpc error: code = AlreadyExists desc = secret TAKEN already exists'],
    ['secret', { Name: '', Data: b64('x') }, 400, 'rpc error: code = InvalidArgument desc = name must be provided'],
    ['secret', { Data: b64('x') }, 400, 'rpc error: code = InvalidArgument desc = name must be provided'],
    ...['-a', 'a-', 'a b', 'x'.repeat(65), 'é'].map(
      (n): [string, unknown, number, string] => [
        'secret',
        { Name: n, Data: b64('x') },
        400,
        'rpc error: code = InvalidArgument desc = invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]',
      ],
    ),
    ['secret', { Name: 'empty' }, 400, 'rpc error: code = InvalidArgument desc = secret data must be larger than 0 and less than 512000 bytes'],
    ['secret', { Name: 'empty', Data: '' }, 400, 'rpc error: code = InvalidArgument desc = secret data must be larger than 0 and less than 512000 bytes'],
    ['secret', { Name: 'big', Data: b64(Buffer.alloc(512000)) }, 400, 'rpc error: code = InvalidArgument desc = secret data must be larger than 0 and less than 512000 bytes'],
    ['config', { Name: 'big', Data: b64(Buffer.alloc(1024000)) }, 400, 'rpc error: code = InvalidArgument desc = config data must be larger than 0 and less than 1024000 bytes'],
    ['secret', { Name: 'drv', Driver: { Name: '' } }, 400, 'rpc error: code = InvalidArgument desc = secret driver must have a name'],
  ];
  for (const [kind, body, status, text] of cases) {
    const r = await api('POST', `/${kind}s/create`, body);
    t.equal(r.status, status, `${JSON.stringify(body).slice(0, 60)} -> ${status}`);
    t.equal(msg(r), text);
  }
  t.equal((await api('POST', '/secrets/create', { Name: 'max', Data: b64(Buffer.alloc(511999, 1)) })).status, 201, '511,999 bytes is allowed');
  t.equal((await api('POST', '/configs/create', { Name: 'max', Data: b64(Buffer.alloc(1023999, 1)) })).status, 201);
  t.equal((await api('POST', '/secrets/create', { Name: 'one', Data: b64('1') })).status, 201, 'one byte is allowed');
  t.equal((await api('POST', '/configs/create', { Name: 'taken', Data: b64('1') })).status, 201, 'a config may share a secret’s name');
  t.equal((await api('POST', '/configs/create', { Name: 'a', Data: b64('1') })).status, 201, 'one-character names are fine');
});

t.test('resolution: full ID, exact name, ID prefix; not found; ambiguous', async (t) => {
  // Make secrets until two IDs share a first character, for an ambiguous prefix.
  const ids: string[] = [];
  let shared = '';
  for (let i = 0; !shared; i++) {
    const id = await create('secret', `res${i}`);
    shared = ids.find((x) => x[0] === id[0])?.[0] ?? '';
    ids.push(id);
  }
  const all = ((await api('GET', '/secrets')).json as { ID: string }[]).filter((s) => s.ID.startsWith(shared));
  const amb = await api('GET', `/secrets/${shared}`);
  t.equal(amb.status, 400);
  t.equal(msg(amb), `secret ${shared} is ambiguous (${all.length} matches found)`);
  const nf = await api('GET', '/secrets/doesnotexist');
  t.equal(nf.status, 404);
  t.equal(msg(nf), 'secret doesnotexist not found');
  t.equal(msg(await api('GET', '/configs/doesnotexist')), 'config doesnotexist not found');
  t.equal(msg(await api('DELETE', '/secrets/doesnotexist')), 'secret doesnotexist not found');
  // a name that looks like another secret's ID prefix: the exact name wins over the prefix
  const target = ids[0]!;
  const decoy = await create('secret', target.slice(0, 5));
  t.equal(((await api('GET', `/secrets/${target.slice(0, 5)}`)).json as { ID: string }).ID, decoy, 'exact name before ID prefix');
  // name prefixes are not used for resolution
  t.equal((await api('GET', '/secrets/res')).status, 404);
});

t.test('update: labels only, version checked', async (t) => {
  const id = await create('secret', 'upd', 'v1', { a: '1' });
  const cur = (await api('GET', `/secrets/${id}`)).json as { Version: { Index: number }; CreatedAt: string; UpdatedAt: string };
  const v = cur.Version.Index;
  t.equal(msg(await api('POST', `/secrets/${id}/update?version=${v}`, { Name: 'renamed', Labels: {} })), 'rpc error: code = InvalidArgument desc = only updates to Labels are allowed');
  t.equal(msg(await api('POST', `/secrets/${id}/update?version=${v}`, { Name: 'upd', Data: b64('v2') })), 'rpc error: code = InvalidArgument desc = only updates to Labels are allowed');
  t.equal(msg(await api('POST', `/secrets/${id}/update?version=abc`, { Name: 'upd' })), 'invalid secret version');
  t.equal(msg(await api('POST', `/secrets/${id}/update`, { Name: 'upd' })), 'invalid secret version');
  t.equal(msg(await api('POST', `/configs/${id}/update?version=x`, { Name: 'upd' })), 'invalid config version');
  const stale = await api('POST', `/secrets/${id}/update?version=${v - 1}`, { Name: 'upd', Labels: { b: '2' } });
  t.equal(stale.status, 500);
  t.equal(msg(stale), 'rpc error: code = Unknown desc = update out of sequence');
  const ok = await api('POST', `/secrets/upd/update?version=${v}`, { Name: 'upd', Labels: { b: '2' }, Data: b64('v1') });
  t.equal(ok.status, 200, 'same data may be sent back');
  const after = (await api('GET', `/secrets/${id}`)).json as { Version: { Index: number }; CreatedAt: string; UpdatedAt: string; Spec: unknown };
  t.ok(after.Version.Index > v, 'the index rises');
  t.equal(after.CreatedAt, cur.CreatedAt);
  t.not(after.UpdatedAt, cur.UpdatedAt);
  t.same(after.Spec, { Name: 'upd', Labels: { b: '2' } });
  const again = await api('POST', `/secrets/${id}/update?version=${v}`, { Name: 'upd', Labels: {} });
  t.equal(msg(again), 'rpc error: code = Unknown desc = update out of sequence', 'the old version is stale now');
});

t.test('list filters', async (t) => {
  const base = 'flt';
  const a = await create('secret', `${base}-Alpha`, 'x', { tier: 'web', team: 'a' });
  const b = await create('secret', `${base}-beta`, 'x', { tier: 'db' });
  const c = await create('secret', `${base}-gamma`, 'x');
  const ls = async (filters: unknown, kind = 'secrets'): Promise<string[]> => {
    const r = await api('GET', `/${kind}?filters=${encodeURIComponent(JSON.stringify(filters))}`);
    if (r.status !== 200) throw new Error(msg(r));
    return (r.json as { ID: string }[]).map((s) => s.ID).sort();
  };
  t.same(await ls({ name: { [`${base}-`]: true } }), [a, b, c].sort(), 'name is a prefix match');
  t.same(await ls({ name: [`${base.toUpperCase()}-A`] }), [a], 'legacy list form; case-insensitive');
  t.same(await ls({ names: { [`${base}-alpha`]: true } }), [a], 'names is exact (case-insensitive)');
  t.same(await ls({ names: { [`${base}-`]: true } }), []);
  t.same(await ls({ id: { [a.slice(0, 10)]: true } }), [a]);
  t.same(await ls({ name: { [`${base}-`]: true }, label: { tier: true } }), [a, b].sort(), 'label=key: presence');
  t.same(await ls({ name: { [`${base}-`]: true }, label: { 'tier=db': true } }), [b], 'label=key=value');
  t.same(await ls({ label: { 'tier=web': true, team: true } }), [a], 'labels AND');
  t.same(await ls({ name: { [`${base}-alpha`]: true, [`${base}-beta`]: true } }), [a, b].sort(), 'values of one key OR');
  t.same(await ls({ names: { [`${base}-alpha`]: true }, id: { [c]: true } }), [a, c].sort(), 'names, name and id filters OR together (swarmkit store.Or)');
  const bad = await api('GET', `/secrets?filters=${encodeURIComponent('{"bogus":{"x":true}}')}`);
  t.equal(bad.status, 400);
  t.equal(msg(bad), "invalid filter 'bogus'");
  t.equal(msg(await api('GET', `/configs?filters=${encodeURIComponent('{"names":{"x":true}}')}`)), "invalid filter 'names'", 'configs do not take names');
  t.equal((await api('GET', '/secrets?filters=not-json')).status, 400);
});

t.test('delete', async (t) => {
  const id = await create('secret', 'gone');
  const r = await api('DELETE', `/secrets/gone`);
  t.equal(r.status, 204);
  t.equal((await api('GET', `/secrets/${id}`)).status, 404);
  t.equal((await api('DELETE', `/secrets/${id}`)).status, 404);
  await create('secret', 'gone'); // the name is free again
});
