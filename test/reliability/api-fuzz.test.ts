// Bad input, fuzzed, against every API route of a real manager: random and mutated requests (bodies, query strings,
// headers, path parameters, unicode and huge names, deep JSON, chunked and lying bodies), then slow senders.
// Per case: an answer within the deadline, a clear 4xx with a JSON {"message"} (or 2xx when the mutation stayed
// valid: tracked), never an unexplained 5xx, the manager alive. After the run the stored state equals the state
// before, except for the tracked successful writes. Seeded: RS_SEED=<n> replays a run.
import t from 'tap';
import net from 'node:net';
import { isRoot, request, startManager, waitFor, type ApiResponse } from '../helpers/manager.js';
import { Rng, deepJson, fuzzSeed, junkString, junkValue } from '../helpers/fuzz.js';
import { createCsrPem, generateKeyPair } from '../../shared/pki.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const CASES = Number(process.env.RS_FUZZ_CASES ?? 11_000);
const DEADLINE_MS = 20_000; // per case; generous for a loaded 2-core machine (max latency is printed)
const seed = fuzzSeed();
t.comment(`seed api-fuzz: ${seed} (replay: RS_SEED=${seed})`);
const rng = new Rng(seed);

process.env.RUNSECRETS_HEARTBEAT_MS = '200'; // joined nodes without an agent go down fast, before the baseline
const m = await startManager({ t });
const api = (method: string, path: string, body?: unknown): Promise<ApiResponse> => request(m.socket, method, path, body);
const b64 = (s: string): string => Buffer.from(s).toString('base64');

// ---------- raw HTTP over the Unix socket: full control of every byte ----------

interface RawReq {
  method: string;
  target: string;
  headers: [string, string][];
  body: Buffer | null;
  /** 'valid' chunk encoding, 'invalid' chunk syntax, or none (Content-Length). */
  chunked: 'valid' | 'invalid' | null;
  /** Content-Length that lies: 'short' (the rest looks like a next request) or 'long' (we half-close early). */
  lengthLie: 'short' | 'long' | null;
  /** Bytes appended after the request (pipelined junk). */
  trailer: Buffer | null;
}

interface RawRes {
  outcome: 'response' | 'closed' | 'timeout';
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
  size: number; // bytes of the request
}

function encodeReq(r: RawReq): Buffer {
  const head: string[] = [`${r.method} ${r.target} HTTP/1.1`];
  for (const [k, v] of r.headers) head.push(`${k}: ${v}`);
  let body = r.body ?? Buffer.alloc(0);
  if (r.chunked) {
    head.push('Transfer-Encoding: chunked');
    const parts: Buffer[] = [];
    let off = 0;
    while (off < body.length) {
      const n = Math.min(body.length - off, 1 + rng.int(64 * 1024));
      parts.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(off, off + n), Buffer.from('\r\n'));
      off += n;
    }
    parts.push(Buffer.from(r.chunked === 'valid' ? '0\r\n\r\n' : rng.pick(['zz\r\n\r\n', '-1\r\nx\r\n', 'ffffffffffffffffff\r\n', '5\r\nab\r\n0\r\n\r\n'])));
    body = Buffer.concat(parts);
  } else if (r.body !== null) {
    const n = r.lengthLie === 'short' ? Math.max(0, body.length - 1 - rng.int(Math.max(1, body.length))) : r.lengthLie === 'long' ? body.length + 1 + rng.int(1000) : body.length;
    head.push(`Content-Length: ${n}`);
  }
  return Buffer.concat([Buffer.from(head.join('\r\n') + '\r\n\r\n', 'latin1'), body, r.trailer ?? Buffer.alloc(0)]);
}

function send(r: RawReq): Promise<RawRes> {
  const started = Date.now();
  const bytes = encodeReq(r);
  return new Promise((resolve) => {
    const c = net.connect(m.socket);
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (res: Omit<RawRes, 'ms' | 'size'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      c.destroy();
      resolve({ ...res, ms: Date.now() - started, size: bytes.length });
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout', status: 0, headers: {}, body: '' }), DEADLINE_MS);
    const parse = (final: boolean): void => {
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
        }
        if (status >= 100 && status < 200) {
          buf = buf.subarray(end + 4); // 100 Continue: the real answer follows
          continue;
        }
        const len = r.method === 'HEAD' ? 0 : Number(headers['content-length'] ?? -1);
        const have = buf.length - end - 4;
        if (len >= 0 && have >= len) return finish({ outcome: 'response', status, headers, body: buf.subarray(end + 4, end + 4 + len).toString('utf8') });
        if (final) return finish({ outcome: 'response', status, headers, body: buf.subarray(end + 4).toString('utf8') });
        return;
      }
      if (final) finish({ outcome: 'closed', status: 0, headers: {}, body: '' });
    };
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      parse(false);
    });
    c.on('close', () => parse(true));
    c.on('error', () => undefined); // EPIPE/ECONNRESET when the manager refuses early: the answer (if any) counts
    c.write(bytes);
    // A request whose declared body never comes: the client gives up sending (half-close), as a dying one would.
    if (r.lengthLie === 'long') c.end();
  });
}

// ---------- the cluster the fuzzer works on ----------

const keys = await generateKeyPair();
const csr = await createCsrPem(keys, 'fuzz-node');
let workerToken = m.workerToken;

async function mustOk(r: Promise<ApiResponse>, what: string): Promise<ApiResponse> {
  const res = await r;
  if (res.status < 200 || res.status > 299) throw new Error(`${what}: ${res.status} ${res.text}`);
  return res;
}
const idOf = (r: ApiResponse): string => (r.json as { ID?: string; NodeID?: string }).ID ?? (r.json as { NodeID: string }).NodeID;

/** IDs the state check may see change: created, updated or deleted by a tracked 2xx or by the harness. */
const allowed = new Set<string>();
let n = 0;
const uniq = (p: string): string => `${p}-${(n++).toString(36)}`;

async function newSecret(kind: 'secret' | 'config'): Promise<string> {
  const id = idOf(await mustOk(api('POST', `/${kind}s/create`, { Name: uniq(`fz-${kind}`), Labels: { a: 'b' }, Data: b64('fuzz-data') }), `create ${kind}`));
  return id;
}
function serviceSpec(name: string, secretId: string, configId: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return {
    Name: name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: 'none',
        Command: ['sleep', '1d'],
        Secrets: [{ SecretID: secretId, SecretName: ids.secretName, File: { Name: 'db-pass', UID: '0', GID: '0', Mode: 0o400 } }],
        Configs: [{ ConfigID: configId, ConfigName: ids.configName, File: { Name: 'app.conf', UID: '0', GID: '0', Mode: 0o444 } }],
      },
      Placement: { Constraints: ['node.hostname==fz-nowhere'] },
    },
    Mode: { Replicated: { Replicas: 1 } },
  };
}
async function newNode(): Promise<string> {
  return idOf(await mustOk(api('POST', '/runsecrets/join', { Token: workerToken, CSR: csr, Hostname: uniq('fz-host'), Labels: {} }), 'join'));
}

const ids = {
  secret: '',
  secretName: '',
  config: '',
  configName: '',
  service: '',
  serviceName: '',
  task: '',
  node: '',
  manager: '',
  victimSecret: '',
  victimConfig: '',
  victimService: '',
  victimNode: '',
  versions: new Map<string, number>(),
  swarmVersion: 0,
};

ids.secret = await newSecret('secret');
ids.secretName = ((await api('GET', `/secrets/${ids.secret}`)).json as { Spec: { Name: string } }).Spec.Name;
ids.config = await newSecret('config');
ids.configName = ((await api('GET', `/configs/${ids.config}`)).json as { Spec: { Name: string } }).Spec.Name;
ids.serviceName = uniq('fz-svc');
ids.service = idOf(await mustOk(api('POST', '/services/create', serviceSpec(ids.serviceName, ids.secret, ids.config)), 'create service'));
ids.node = await newNode();
ids.manager = ((await api('GET', '/info')).json as { Swarm: { NodeID: string } }).Swarm.NodeID;
ids.task = await waitFor(async () => ((await api('GET', '/tasks')).json as { ID: string }[])[0]?.ID, 'the service task');

async function healVictims(): Promise<void> {
  const exists = async (path: string): Promise<boolean> => (await api('GET', path)).status === 200;
  // A mutation that stayed valid may even have removed a fixture (a prefix of its ID, its name): make a new one.
  const replace = (old: string, fresh: string): string => (allowed.add(old), allowed.add(fresh), fresh);
  if (!(await exists(`/secrets/${ids.secret}`))) {
    ids.secret = replace(ids.secret, await newSecret('secret'));
    ids.secretName = ((await api('GET', `/secrets/${ids.secret}`)).json as { Spec: { Name: string } }).Spec.Name;
  }
  if (!(await exists(`/configs/${ids.config}`))) {
    ids.config = replace(ids.config, await newSecret('config'));
    ids.configName = ((await api('GET', `/configs/${ids.config}`)).json as { Spec: { Name: string } }).Spec.Name;
  }
  if (!(await exists(`/services/${ids.service}`))) {
    ids.serviceName = uniq('fz-svc');
    ids.service = replace(ids.service, idOf(await mustOk(api('POST', '/services/create', serviceSpec(ids.serviceName, ids.secret, ids.config)), 'service')));
  }
  if (!(await exists(`/tasks/${ids.task}`))) {
    ids.task = await waitFor(async () => ((await api('GET', '/tasks')).json as { ID: string }[]).at(-1)?.ID, 'a task');
  }
  if (!(await exists(`/nodes/${ids.node}`))) ids.node = replace(ids.node, await newNode());
  if (!ids.victimSecret || !(await exists(`/secrets/${ids.victimSecret}`))) allowed.add((ids.victimSecret = await newSecret('secret')));
  if (!ids.victimConfig || !(await exists(`/configs/${ids.victimConfig}`))) allowed.add((ids.victimConfig = await newSecret('config')));
  if (!ids.victimService || !(await exists(`/services/${ids.victimService}`))) {
    ids.victimService = idOf(await mustOk(api('POST', '/services/create', serviceSpec(uniq('fz-victim'), ids.secret, ids.config)), 'victim service'));
    allowed.add(ids.victimService);
  }
  if (!ids.victimNode || !(await exists(`/nodes/${ids.victimNode}`))) allowed.add((ids.victimNode = await newNode()));
  for (const [kind, id] of [['secrets', ids.secret], ['configs', ids.config], ['services', ids.service], ['nodes', ids.node]] as const) {
    const r = await api('GET', `/${kind}/${id}`);
    if (r.status === 200) ids.versions.set(id, (r.json as { Version: { Index: number } }).Version.Index);
  }
  const sw = (await api('GET', '/swarm')).json as { Version: { Index: number }; JoinTokens: { Worker: string } };
  ids.swarmVersion = sw.Version.Index;
  workerToken = sw.JoinTokens.Worker;
}
await healVictims();
// Sentinels: objects no valid request of the fuzzer targets (only mutated path segments name them): they must come
// through the run exactly as they were, versions included.
const sentinelKinds = new Map<string, string>(); // ID -> its collection
for (let i = 0; i < 3; i++) {
  sentinelKinds.set(await newSecret('secret'), '/secrets');
  sentinelKinds.set(await newSecret('config'), '/configs');
}
sentinelKinds.set(idOf(await mustOk(api('POST', '/services/create', serviceSpec(uniq('fz-sentinel'), ids.secret, ids.config)), 'sentinel service')), '/services');
sentinelKinds.set(await newNode(), '/nodes');
const sentinels = [...sentinelKinds.keys()];
const sentinelTouchedBy = new Map<string, string>();

// Joined nodes have no agent: wait until they are marked down, so the baseline does not move by itself.
await waitFor(
  async () => ((await api('GET', '/nodes')).json as { Spec: { Role: string }; Status: { State: string } }[]).every((x) => x.Spec.Role === 'manager' || x.Status.State === 'down'),
  'joined nodes to be marked down',
  60_000,
);

const COLLECTIONS = ['/secrets', '/configs', '/services', '/tasks', '/nodes'] as const;
type Snapshot = Map<string, Map<string, string>>;
async function snapshot(): Promise<Snapshot> {
  const s: Snapshot = new Map();
  for (const c of COLLECTIONS) {
    const r = await api('GET', c);
    if (r.status !== 200) throw new Error(`GET ${c}: ${r.status}`);
    s.set(c, new Map((r.json as { ID: string }[]).map((o) => [o.ID, JSON.stringify(o)])));
  }
  const sw = (await api('GET', '/swarm')).json as Record<string, unknown>;
  s.set('/swarm', new Map([['swarm', JSON.stringify(sw)]]));
  return s;
}
const before = await settledSnapshot();

/** IDs that differ between two snapshots, leaving out what may change (tracked writes, their services' tasks). */
/** A snapshot once two in a row, 100 ms apart, are the same (at most 3 s): nothing is still being written. */
/** The state once it held still for 3 looks 200 ms apart (a commit of a request still being carried out lands). */
async function settledSnapshot(): Promise<Snapshot> {
  let last = await snapshot();
  let still = 0;
  for (let i = 0; i < 40 && still < 3; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await snapshot();
    still = changedIds(last, now).length === 0 ? still + 1 : 0;
    last = now;
  }
  return last;
}

function changedIds(a: Snapshot, b: Snapshot): string[] {
  const out: string[] = [];
  for (const [coll, objs] of a) {
    const now = b.get(coll)!;
    for (const id of new Set([...objs.keys(), ...now.keys()])) {
      if (allowed.has(id) || objs.get(id) === now.get(id)) continue;
      if (coll === '/tasks' && allowed.has((JSON.parse((now.get(id) ?? objs.get(id))!) as { ServiceID: string }).ServiceID)) continue;
      out.push(id);
    }
  }
  return out;
}
const probeBefore = (await mustOk(api('POST', '/secrets/create', { Name: uniq('fz-probe'), Data: b64('p') }), 'probe')).json as { ID: string };
allowed.add(probeBefore.ID);
const indexBefore = ((await api('GET', `/secrets/${probeBefore.ID}`)).json as { Version: { Index: number } }).Version.Index;

// ---------- routes and their valid requests ----------

interface Base {
  method: string;
  path: string;
  params: string[]; // which path segments are parameters (values in the path)
  query: [string, string][];
  body?: unknown;
}
interface Route {
  name: string;
  base(): Base;
}
const secretBody = (kind: 'secret' | 'config'): Record<string, unknown> => ({ Name: uniq(`fz-new-${kind}`), Labels: { env: 'fuzz' }, Data: b64('some bytes') });
const ROUTES: Route[] = [
  { name: 'GET /_ping', base: () => ({ method: 'GET', path: '/_ping', params: [], query: [] }) },
  { name: 'HEAD /_ping', base: () => ({ method: 'HEAD', path: '/_ping', params: [], query: [] }) },
  { name: 'GET /version', base: () => ({ method: 'GET', path: '/version', params: [], query: [] }) },
  { name: 'GET /info', base: () => ({ method: 'GET', path: '/info', params: [], query: [] }) },
  { name: 'GET /swarm', base: () => ({ method: 'GET', path: '/swarm', params: [], query: [] }) },
  {
    name: 'POST /swarm/update',
    base: () => ({ method: 'POST', path: '/swarm/update', params: [], query: [['version', String(ids.swarmVersion)], ['rotateWorkerToken', 'false']], body: {} }),
  },
  { name: 'GET /swarm/unlockkey', base: () => ({ method: 'GET', path: '/swarm/unlockkey', params: [], query: [] }) },
  { name: 'POST /swarm/unlock', base: () => ({ method: 'POST', path: '/swarm/unlock', params: [], query: [], body: { UnlockKey: 'RSKEY-1-AAAA' } }) },
  { name: 'POST /runsecrets/certs/admin', base: () => ({ method: 'POST', path: '/runsecrets/certs/admin', params: [], query: [], body: { CSR: csr } }) },
  { name: 'GET /runsecrets/ca', base: () => ({ method: 'GET', path: '/runsecrets/ca', params: [], query: [] }) },
  {
    name: 'POST /runsecrets/join',
    base: () => ({ method: 'POST', path: '/runsecrets/join', params: [], query: [], body: { Token: workerToken, CSR: csr, Hostname: uniq('fz-join'), Labels: { a: 'b' } } }),
  },
  ...(['secret', 'config'] as const).flatMap((k): Route[] => [
    { name: `GET /${k}s`, base: () => ({ method: 'GET', path: `/${k}s`, params: [], query: [['filters', JSON.stringify({ name: { 'fz-': true } })]] }) },
    { name: `POST /${k}s/create`, base: () => ({ method: 'POST', path: `/${k}s/create`, params: [], query: [], body: secretBody(k) }) },
    { name: `GET /${k}s/{id}`, base: () => ({ method: 'GET', path: `/${k}s/${k === 'secret' ? ids.secret : ids.config}`, params: ['id'], query: [] }) },
    {
      name: `POST /${k}s/{id}/update`,
      base: () => {
        const id = k === 'secret' ? ids.secret : ids.config;
        const name = k === 'secret' ? ids.secretName : ids.configName;
        return { method: 'POST', path: `/${k}s/${id}/update`, params: ['id'], query: [['version', String(ids.versions.get(id) ?? 0)]], body: { Name: name, Labels: { a: 'b' } } };
      },
    },
    { name: `DELETE /${k}s/{id}`, base: () => ({ method: 'DELETE', path: `/${k}s/${k === 'secret' ? ids.victimSecret : ids.victimConfig}`, params: ['id'], query: [] }) },
  ]),
  { name: 'GET /services', base: () => ({ method: 'GET', path: '/services', params: [], query: [['filters', JSON.stringify({ name: ['fz'] })], ['status', 'true']] }) },
  { name: 'POST /services/create', base: () => ({ method: 'POST', path: '/services/create', params: [], query: [], body: serviceSpec(uniq('fz-new-svc'), ids.secret, ids.config) }) },
  { name: 'GET /services/{id}', base: () => ({ method: 'GET', path: `/services/${ids.service}`, params: ['id'], query: [['insertDefaults', 'true']] }) },
  {
    name: 'POST /services/{id}/update',
    base: () => ({
      method: 'POST',
      path: `/services/${ids.service}/update`,
      params: ['id'],
      query: [['version', String(ids.versions.get(ids.service) ?? 0)]],
      body: serviceSpec(ids.serviceName, ids.secret, ids.config, { l: 'v' }),
    }),
  },
  { name: 'DELETE /services/{id}', base: () => ({ method: 'DELETE', path: `/services/${ids.victimService}`, params: ['id'], query: [] }) },
  { name: 'GET /tasks', base: () => ({ method: 'GET', path: '/tasks', params: [], query: [['filters', JSON.stringify({ service: [ids.serviceName], 'desired-state': ['running'] })]] }) },
  { name: 'GET /tasks/{id}', base: () => ({ method: 'GET', path: `/tasks/${ids.task}`, params: ['id'], query: [] }) },
  { name: 'GET /nodes', base: () => ({ method: 'GET', path: '/nodes', params: [], query: [['filters', JSON.stringify({ role: ['worker'] })]] }) },
  { name: 'GET /nodes/{id}', base: () => ({ method: 'GET', path: `/nodes/${rng.chance(0.8) ? ids.node : ids.manager}`, params: ['id'], query: [] }) },
  {
    name: 'POST /nodes/{id}/update',
    base: () => ({
      method: 'POST',
      path: `/nodes/${ids.node}/update`,
      params: ['id'],
      query: [['version', String(ids.versions.get(ids.node) ?? 0)]],
      body: { Role: 'worker', Availability: rng.pick(['active', 'pause', 'drain']), Labels: { zone: 'fz' } },
    }),
  },
  { name: 'DELETE /nodes/{id}', base: () => ({ method: 'DELETE', path: `/nodes/${ids.victimNode}`, params: ['id'], query: [['force', 'true']] }) },
  { name: '(unknown routes)', base: () => ({ method: rng.pick(['GET', 'POST', 'DELETE']), path: rng.pick(['/volumes', '/images/json', '/secrets/x/y/z', '/runsecrets', '/']), params: [], query: [] }) },
];

// ---------- mutations ----------

/** IDs and names to put in path parameters; sentinels only on routes of other kinds (there they must stay 404s). */
const OTHER_IDS = (route: string): string[] => [
  ...[ids.secret, ids.config, ids.service, ids.task, ids.node, ids.manager, ids.secretName, ids.serviceName],
  ...sentinels.filter((id) => !route.includes(sentinelKinds.get(id)!)),
];
const BAD_SEGMENTS = ['%', '%z', '%zz', '%C0%AF', '%ED%A0%80', '%FF%FE', '%00', '..', '%2e%2e', '%2e%2e%2fsecrets', '.', '%2F', 'a%20b', '\u00e9t\u00e9', '%F0%9F%98%80'];

function encodeSegment(s: string): string {
  // encodeURIComponent throws on lone surrogates: encode the UTF-16 code units' UTF-8 (WTF-8) bytes by hand then.
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s].map((ch) => (ch.length === 1 && ch.charCodeAt(0) >= 0xd800 && ch.charCodeAt(0) <= 0xdfff ? '%ED%A0%80' : encodeURIComponent(ch))).join('');
  }
}

/** Sets `value` at a random place in a JSON object tree (or drops the key); returns a description. */
function mutateJson(o: unknown): string {
  if (o === null || typeof o !== 'object') return 'scalar body';
  let cur = o as Record<string, unknown>;
  for (let d = 0; d < 4; d++) {
    const keys = Object.keys(cur);
    const k = keys.length > 0 ? rng.pick(keys) : null;
    const v = k === null ? null : cur[k];
    if (k !== null && v !== null && typeof v === 'object' && rng.chance(0.6)) {
      cur = v as Record<string, unknown>;
      continue;
    }
    const key = k ?? 'Extra';
    switch (rng.int(7)) {
      case 0:
        delete cur[key];
        return `drop ${key}`;
      case 1:
        cur[key] = junkString(rng);
        return `junk string in ${key}`;
      case 2:
        cur[key] = junkValue(rng);
        return `junk value in ${key}`;
      case 3: {
        // in a known field, or in an unknown one (kept as sent, round-tripped through the store)
        const where = rng.chance(0.5) ? key : 'XDeep';
        cur[where] = '__DEEP__';
        return `deep JSON in ${where}`;
      }
      case 4: {
        const val = cur[key];
        delete cur[key];
        cur[rng.chance(0.5) ? key.toLowerCase() : key.toUpperCase()] = val;
        return `case-changed ${key}`;
      }
      case 5:
        cur[junkString(rng).slice(0, 1000)] = junkValue(rng);
        return 'unknown field';
      default:
        cur[key] = Array.isArray(cur[key]) ? [...(cur[key] as unknown[]), ...(cur[key] as unknown[])] : [cur[key]];
        return `wrapped/duplicated ${key}`;
    }
  }
  return 'no-op';
}

interface Case {
  route: string;
  req: RawReq;
  mutations: string[];
}

function makeCase(route: Route): Case {
  const b = route.base();
  const mutations: string[] = [];
  let method = b.method;
  let pathParts = b.path.split('/').filter(Boolean);
  const query = [...b.query];
  let bodyText: string | null = b.body === undefined ? null : JSON.stringify(b.body);
  let bodyBuf: Buffer | null = null;
  const headers: [string, string][] = [['Host', 'localhost'], ['Connection', 'close']];
  if (bodyText !== null) headers.push(['Content-Type', 'application/json']);
  let chunked: RawReq['chunked'] = null;
  let lengthLie: RawReq['lengthLie'] = null;
  let trailer: Buffer | null = null;
  let prefix = '';
  let deep = false;

  const nMut = rng.chance(0.1) ? 0 : 1 + rng.int(3);
  for (let i = 0; i < nMut; i++) {
    const what = rng.int(b.body !== undefined ? 10 : 6);
    switch (what) {
      case 0: {
        // path parameter: junk, bad percent-encoding, traversal, huge, other kinds' IDs, prefixes
        const idx = b.params.length > 0 ? pathParts.length - (b.path.endsWith('/update') ? 2 : 1) : rng.int(pathParts.length + 1);
        const choice = rng.int(6);
        const seg =
          choice === 0
            ? rng.pick(BAD_SEGMENTS)
            : choice === 1
              ? encodeSegment(junkString(rng).slice(0, rng.chance(0.2) ? 200_000 : 300))
              : choice === 2
                ? rng.pick(OTHER_IDS(b.path))
                : choice === 3
                  ? (pathParts[idx] ?? 'x').slice(0, 1 + rng.int(12))
                  : choice === 4
                    ? `${pathParts[idx] ?? ''}/../${rng.pick(['secrets', 'configs', '..', ''])}`
                    : 'x'.repeat(rng.pick([1, 100, 10_000, 70_000]));
        pathParts = [...pathParts];
        pathParts[Math.min(idx, pathParts.length)] = seg;
        mutations.push(`path segment ${idx}`);
        break;
      }
      case 1: {
        const choice = rng.int(5);
        if (choice === 0) prefix = `/v${rng.pick(['1.47', '1.24', '1.23', '9.99', '1.48', '0.1', '1', 'abc', '1.47.1', '1.4a', '01.047', '99999999999999999999.1'])}`;
        else if (choice === 1) pathParts = [...pathParts, ''];
        else if (choice === 2) prefix = rng.pick(['/', '//', '/./', '/../']);
        else if (choice === 3) pathParts = [...pathParts, rng.pick(['x', '..', '%2e', 'update'])];
        else pathParts = pathParts.map((p) => (rng.chance(0.3) ? p.toUpperCase() : p));
        mutations.push('version prefix / path shape');
        break;
      }
      case 2: {
        // query: filters junk, version junk, repeats, bad percent-encoding
        const key = rng.pick(['filters', 'version', 'force', 'rotateWorkerToken', 'rotateManagerUnlockKey', 'status', 'insertDefaults', 'rollback', junkString(rng).slice(0, 50)]);
        const val =
          key === 'filters'
            ? rng.pick([
                '{',
                '[]',
                '"x"',
                'null',
                '{"name":1}',
                '{"name":[1]}',
                '{"bogus":["x"]}',
                '{"label":{"a=b":true}}',
                '{"id":[""]}',
                '{"node":["self"]}',
                '{"desired-state":["bogus"]}',
                '{"role":["king"]}',
                '{"service":["nope"]}',
                deepJson(rng.pick([100, 100_000]), rng.chance(0.5)).slice(0, 60_000),
                JSON.stringify({ name: [junkString(rng).slice(0, 2000)] }),
              ])
            : key === 'version'
              ? rng.pick(['', '-1', '1.5', '1e3', '0x10', '99999999999999999999', ' 1', 'abc', '\u00bd', '0', String(2 ** 53), '%zz'])
              : junkString(rng).slice(0, 500);
        if (rng.chance(0.5)) {
          const at = query.findIndex(([k]) => k === key);
          if (at >= 0) query.splice(at, 1);
        }
        query.push([key, val]);
        if (rng.chance(0.2)) query.push(['%zz', '%']);
        mutations.push(`query ${key.slice(0, 20)}`);
        break;
      }
      case 3: {
        method = rng.pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'FOO', 'get', 'TRACE']);
        mutations.push(`method ${method}`);
        break;
      }
      case 4: {
        // headers: content type, huge, invalid characters, missing Host, Expect
        const choice = rng.int(7);
        if (choice === 0) headers.push(['Content-Type', rng.pick(['text/plain', 'application/json; charset=latin1', 'multipart/form-data', 'application/jsonx', '', 'application/JSON'])]);
        else if (choice === 1) headers.push(['X-Big', 'y'.repeat(rng.pick([1000, 20_000, 100_000]))]);
        else if (choice === 2) headers.push(['X-Bad', 'a\u0001b']);
        else if (choice === 3) headers.splice(0, 1); // no Host
        else if (choice === 4) headers.push(['Expect', '100-continue']);
        else if (choice === 5) for (let j = 0; j < 3000; j++) headers.push([`X-H${j}`, 'v']);
        else headers.push(['Content-Length', rng.pick(['abc', '-1', '5', '99999999999999999999'])]);
        mutations.push('headers');
        break;
      }
      case 5: {
        // a body where none is expected, or framing junk after the request
        if (rng.chance(0.5)) {
          bodyText = JSON.stringify(junkValue(rng));
          headers.push(['Content-Type', 'application/json']);
        } else trailer = Buffer.from(rng.pick(['GARBAGE\r\n\r\n', 'GET /_ping HTTP/1.1\r\n\r\n', '\u0000\u0000\u0000']));
        mutations.push('unexpected body/trailer');
        break;
      }
      case 6:
      case 7: {
        if (bodyText === null || deep) break; // already too deep to parse here: mutate it no further
        const o = JSON.parse(bodyText) as unknown;
        const what = mutateJson(o);
        // Mutations compound (duplicated arrays double): past a size no route accepts, keep the last text instead of
        // growing past what a string can hold.
        let text: string | null = null;
        try {
          text = JSON.stringify(o);
        } catch {
          /* too large to serialise */
        }
        if (text === null || text.length > 32 << 20) {
          mutations.push(`json: ${what} (too large: not applied)`);
          break;
        }
        mutations.push(`json: ${what}`);
        bodyText = text;
        if (bodyText.includes('"__DEEP__"')) deep = true;
        if (deep) bodyText = bodyText.replace('"__DEEP__"', deepJson(rng.pick([600, 10_000, 100_000]), rng.chance(0.5)));
        break;
      }
      case 8: {
        if (bodyText === null) break;
        const choice = rng.int(9);
        const raw = Buffer.from(bodyText, 'utf8');
        if (choice === 0) bodyBuf = raw.subarray(0, rng.int(raw.length));
        else if (choice === 1) {
          bodyBuf = Buffer.from(raw);
          for (let j = 0; j < 1 + rng.int(5); j++) if (bodyBuf.length > 0) bodyBuf[rng.int(bodyBuf.length)] = rng.int(256);
        } else if (choice === 2) bodyBuf = rng.bytes(rng.int(5000));
        else if (choice === 3) bodyBuf = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), raw]);
        else if (choice === 4) bodyBuf = Buffer.from(rng.pick(['', 'null', '"s"', '42', 'true', '[]', '{}', '{"a":1}{"b":2}', ' \n ']));
        else if (choice === 5) bodyBuf = Buffer.from(deepJson(100_000, rng.chance(0.5)));
        else if (choice === 6) bodyBuf = Buffer.from(bodyText.replace(/}$/, ',"Name":"dup","Name":"dup2"}'));
        else if (choice === 7) bodyBuf = Buffer.from(bodyText.replace(/"Data":"[^"]*"/, `"Data":"${rng.pick(['%%%', 'eA=', 'eA', '====', 'e A==', 'eB==', '\\u0000'])}"`));
        else bodyBuf = Buffer.concat([raw, Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xed, 0xa0, 0x80])]);
        mutations.push(`raw body ${choice}`);
        break;
      }
      default: {
        if (bodyText === null && bodyBuf === null) break;
        const choice = rng.int(3);
        if (choice === 0) chunked = rng.chance(0.7) ? 'valid' : 'invalid';
        else lengthLie = choice === 1 ? 'short' : 'long';
        mutations.push(`framing ${choice === 0 ? chunked : lengthLie}`);
      }
    }
  }
  const body = bodyBuf ?? (bodyText === null ? null : Buffer.from(bodyText, 'utf8'));
  const qs = query.map(([k, v]) => (k === '%zz' ? `${k}=${v}` : `${encodeSegment(k)}=${encodeSegment(v)}`)).join('&');
  const target = `${prefix}/${pathParts.join('/')}${qs ? `?${qs}` : ''}`;
  return { route: route.name, req: { method, target, headers, body, chunked, lengthLie, trailer }, mutations };
}

// ---------- the run ----------

interface RouteStats {
  cases: number;
  ok2xx: number;
  r4xx: number;
  parity5xx: number;
  closed: number;
}
const stats = new Map<string, RouteStats>(ROUTES.map((r) => [r.name, { cases: 0, ok2xx: 0, r4xx: 0, parity5xx: 0, closed: 0 }]));
const failures: string[] = [];
let maxMs = 0;
let maxCase = '';
let writes = 0;
const statusCounts = new Map<number, number>();
// Docker's own answers that are 5xx by design (moby maps these gRPC codes so): kept for compatibility, counted apart.
// Explained 5xx: Docker's own (update out of sequence, Unimplemented), and 501 for a Docker API route runsecrets does
// not serve (manager/api/unserved.ts), which names the route.
const PARITY_5XX = /^(rpc error: code = (Unknown desc = update out of sequence|Unimplemented desc = .+)|runsecrets does not serve [A-Z]+ \/\S*: .+)$/;

const describe = (c: Case): string =>
  `${c.route} [${c.mutations.join('; ')}] ${c.req.method} ${c.req.target.slice(0, 120)}${c.req.target.length > 120 ? '…' : ''} body=${c.req.body?.length ?? 0}B`;

/** Whether target is a write to an object route whose ID segment is a proper prefix of a sentinel's ID. */
function prefixOfSentinel(target: string): boolean {
  let path = target.split('?')[0] ?? '';
  try {
    path = decodeURIComponent(path);
  } catch {
    /* not encoded: as is */
  }
  const m = /^(?:\/v[0-9.]+)?\/(?:secrets|configs|services|nodes)\/([^/]+)(?:\/update)?\/?$/.exec(path);
  const seg = m?.[1];
  return seg !== undefined && sentinels.some((id) => id !== seg && id.startsWith(seg));
}
let sentinelPrefixSkipped = 0;

const runStart = Date.now();
let lastCase = '';
try {
for (let i = 0; i < CASES; i++) {
  const route = ROUTES[i % ROUTES.length]!;
  const c = makeCase(route);
  lastCase = `case ${i}: ${describe(c)}`;
  // Every request that could write: the state around it is compared, so a refused one that changed anything is
  // caught at once, and a successful one's changes are known exactly.
  const writing = c.req.method !== 'GET' && c.req.method !== 'HEAD';
  // IDs are random (the seed does not fix them) and Docker resolves a unique ID prefix: a short mutated segment
  // such as "x" can name a sentinel by chance. Such a write would be a correct answer that the sentinel check
  // could not tell from a leak, so it is not sent (the cases stay the same: no random draw is skipped).
  if (writing && prefixOfSentinel(c.req.target)) {
    sentinelPrefixSkipped++;
    continue;
  }
  const st = stats.get(route.name)!;
  st.cases++;
  const pre = writing ? await snapshot() : null;
  const res = await send(c.req);
  if (res.ms > maxMs) {
    maxMs = res.ms;
    maxCase = describe(c);
  }
  statusCounts.set(res.status, (statusCounts.get(res.status) ?? 0) + 1);
  const fail = (why: string): void => {
    if (failures.length < 50) failures.push(`case ${i}: ${why}: ${describe(c)} -> ${res.outcome} ${res.status} ${res.body.slice(0, 200)}`);
  };
  if (process.env.RS_FUZZ_DEBUG === '2') t.comment(`case ${i}: ${describe(c)} -> ${res.outcome} ${res.status} ${res.body.slice(0, 100)}`);
  let message: unknown;
  try {
    message = res.body === '' ? undefined : (JSON.parse(res.body) as { message?: unknown }).message;
  } catch {
    message = undefined;
  }
  if (res.outcome === 'timeout') fail(`no answer within ${DEADLINE_MS} ms`);
  else if (res.outcome === 'closed') {
    // Only a client that stopped sending mid-request (half-closed) may be dropped without an answer.
    st.closed++;
    if (process.env.RS_FUZZ_DEBUG) t.comment(`closed: case ${i}: ${describe(c)}`);
    // And a client still sending a large body the manager does not read (oversize, or on a route without a
    // body): the manager answers and closes; the client's write fails (EPIPE) before it can read the answer.
    if (c.req.lengthLie !== 'long' && res.size < 64 * 1024) fail('connection closed without an answer');
  } else if (res.status >= 200 && res.status < 300) {
    st.ok2xx++;
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      writes++;
      // A mutation that stayed valid: note what it touched, undo creations, and restore the fixtures.
      let created: string | undefined;
      try {
        const j = JSON.parse(res.body) as { ID?: string; NodeID?: string };
        created = j.NodeID ?? j.ID;
      } catch {
        created = undefined;
      }
      if (process.env.RS_FUZZ_DEBUG) t.comment(`write: case ${i}: ${describe(c)} -> ${res.status} ${res.body.slice(0, 100)}`);
      if (created) {
        allowed.add(created);
        const kind = c.route.includes('join') ? 'nodes' : c.route.split('/')[1];
        if (kind && kind !== 'runsecrets') await api('DELETE', `/${kind}/${created}${kind === 'nodes' ? '?force=true' : ''}`);
      }
      await healVictims();
      // What this write (and its undo) changed may differ at the end; nothing else may.
      for (const id of changedIds(pre!, await snapshot())) {
        allowed.add(id);
        if (sentinelKinds.has(id)) sentinelTouchedBy.set(id, describe(c));
      }
      if (process.env.RS_FUZZ_DEBUG) t.comment(`allowed now: ${[...allowed].length}`);
    }
  } else if (res.status >= 400 && res.status < 500) {
    st.r4xx++;
    if (c.req.method !== 'HEAD' && (typeof message !== 'string' || message.trim() === '')) fail('4xx without a JSON {"message"}');
  } else if ((res.status === 500 || res.status === 501) && typeof message === 'string' && PARITY_5XX.test(message)) {
    st.parity5xx++;
  } else fail(`unexpected status ${res.status}`);
  // A complete (chunked) request from a client that then half-closed: node ends such a connection without the
  // answer, but the request itself was whole and may have been carried out. Its changes count as tracked writes.
  const wholeButHalfClosed = res.outcome === 'closed' && c.req.lengthLie === 'long' && c.req.chunked === 'valid';
  if (pre && wholeButHalfClosed) {
    // The client saw the close at once; the manager may still be carrying the request out (its commit lands a
    // little later): wait until the state holds still before taking what changed.
    for (const id of changedIds(pre, await settledSnapshot())) allowed.add(id);
    await healVictims();
  } else if (pre && !(res.status >= 200 && res.status < 300)) {
    const changed = changedIds(pre, await snapshot());
    if (changed.length > 0) fail(`not accepted, yet the store changed: ${changed.join(', ')}`);
  }
  if (i % 500 === 499) {
    const ping = await send({ method: 'GET', target: '/_ping', headers: [['Host', 'x'], ['Connection', 'close']], body: null, chunked: null, lengthLie: null, trailer: null });
    if (ping.status !== 200) {
      failures.push(`manager not answering /_ping after case ${i}: ${ping.outcome} ${ping.status}`);
      break;
    }
  }
}
} catch (err) {
  // The harness's own requests fail only when the manager is gone.
  failures.push(`the manager stopped answering (${(err as Error).message}) at ${lastCase}; its last log lines: ${m.logs().trim().split('\n').slice(-3).join(' | ').slice(0, 1500)}`);
}
const runMs = Date.now() - runStart;

t.test('every case answered: 2xx or a clear 4xx, never an unexplained 5xx, no hang', async (t) => {
  t.same(failures, [], 'no failing case');
  t.ok(m.pid() !== null, 'manager process alive');
  t.equal((await api('GET', '/_ping')).status, 200, 'manager answers');
  let total = 0;
  for (const [name, s] of stats) {
    total += s.cases;
    t.comment(`figure api-fuzz.route: ${name}: ${s.cases} cases, ${s.ok2xx} 2xx, ${s.r4xx} 4xx, ${s.parity5xx} Docker-parity 5xx, ${s.closed} dropped half-closed`);
    t.ok(s.cases >= Math.min(300, Math.floor(CASES / ROUTES.length)), `${name} well covered (${s.cases})`);
  }
  const sum = (k: keyof RouteStats): number => [...stats.values()].reduce((a, s) => a + s[k], 0);
  const unexplained5xx = [...statusCounts].filter(([s]) => s >= 500).reduce((a, [, c]) => a + c, 0) - sum('parity5xx');
  t.equal(unexplained5xx, 0, 'no 5xx other than Docker-parity answers');
  t.comment(`figure api-fuzz.cases: ${total.toLocaleString('en')} cases over ${ROUTES.length} routes in ${(runMs / 1000).toFixed(1)} s (${sentinelPrefixSkipped} writes not sent: a segment was a prefix of a sentinel's random ID)`);
  t.comment(
    `figure api-fuzz.statuses: ${sum('ok2xx')} 2xx (${writes} successful writes tracked), ${sum('r4xx')} 4xx, unexplained 5xx = ${unexplained5xx}, Docker-parity 5xx (500 "update out of sequence", 501 Unimplemented or a Docker route not served) = ${sum('parity5xx')}, half-closed dropped = ${sum('closed')}`,
  );
  t.comment(`figure api-fuzz.status-codes: ${[...statusCounts].sort((a, b) => a[0] - b[0]).map(([s, c]) => `${s}:${c}`).join(' ')}`);
  t.comment(`figure api-fuzz.max-latency: ${maxMs} ms (${maxCase.slice(0, 200)})`);
  t.ok(total >= 10_000 || CASES < 10_000, 'at least 10,000 cases');
});

t.test('stored state unchanged except for the tracked successful writes', async (t) => {
  const after = await snapshot();
  let compared = 0;
  for (const [coll, objs] of before) {
    const now = after.get(coll)!;
    for (const id of new Set([...objs.keys(), ...now.keys()])) {
      if (allowed.has(id)) continue;
      const b = objs.get(id);
      const a = now.get(id);
      if (coll === '/tasks') {
        const svc = (JSON.parse((a ?? b)!) as { ServiceID: string }).ServiceID;
        if (allowed.has(svc)) continue;
      }
      compared++;
      if (a !== b) t.fail(`${coll} ${id} changed`, { before: b?.slice(0, 500), after: a?.slice(0, 500) });
    }
  }
  t.ok(compared >= sentinels.length, `compared ${compared} untouched objects`);
  for (const id of sentinels) t.notOk(allowed.has(id), `sentinel ${id} untouched`, { touchedBy: sentinelTouchedBy.get(id) ?? '(not by a tracked write)' });
  const probe = (await mustOk(api('POST', '/secrets/create', { Name: uniq('fz-probe'), Data: b64('p') }), 'probe')).json as { ID: string };
  const indexAfter = ((await api('GET', `/secrets/${probe.ID}`)).json as { Version: { Index: number } }).Version.Index;
  t.comment(`figure api-fuzz.state: ${compared} untouched objects identical before/after; store index ${indexBefore} -> ${indexAfter} over ${writes} tracked successful writes (plus the harness's undo and fixture writes)`);
  t.notMatch(m.logs(), /"level":"error"[^\n]*"msg":"request failed"/, 'no "request failed" (500) log line');
});

// ---------- slow senders ----------

t.test('slow senders: the manager stays responsive and cuts them off after a bounded time', async (t) => {
  const SLOW = 50;
  const opened = Date.now();
  const closedAfter: number[] = [];
  const answers: string[] = [];
  const conns: net.Socket[] = [];
  const headerClosed: number[] = [];
  const bodyClosed: number[] = [];
  const span = (xs: number[]): string => `${(Math.min(...xs) / 1000).toFixed(1)}-${(Math.max(...xs) / 1000).toFixed(1)} s`;
  t.teardown(() => conns.forEach((c) => c.destroy()));
  for (let i = 0; i < SLOW; i++) {
    const c = net.connect(m.socket);
    conns.push(c);
    const headerOnly = i % 2 === 0;
    const text = headerOnly
      ? 'POST /secrets/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: ' + 'a'.repeat(400)
      : 'POST /secrets/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"Name":"slow","Data":"';
    let pos = 0;
    // Headers dribble a byte every 200 ms; a body gets its headers at once, then a byte every 200 ms.
    if (!headerOnly) {
      const end = text.indexOf('\r\n\r\n') + 4;
      c.write(text.slice(0, end));
      pos = end;
    }
    const timer = setInterval(() => {
      if (c.destroyed || !c.writable) return clearInterval(timer);
      c.write(pos < text.length ? text[pos++]! : 'A');
    }, 200);
    let got = '';
    c.on('data', (d: Buffer) => (got += d.toString()));
    c.on('error', () => undefined);
    c.on('close', () => {
      clearInterval(timer);
      closedAfter.push(Date.now() - opened);
      (headerOnly ? headerClosed : bodyClosed).push(Date.now() - opened);
      answers.push(got.split('\r\n')[0] ?? '');
    });
  }
  // Meanwhile a normal client: every ping answered, promptly.
  const pingMs: number[] = [];
  while (closedAfter.length < SLOW && Date.now() - opened < 90_000) {
    const s = Date.now();
    const r = await api('GET', '/_ping');
    pingMs.push(Date.now() - s);
    t.equal(r.status, 200, 'ping answered during the slow senders', { diagnostic: false });
    await new Promise((r) => setTimeout(r, 250));
  }
  const maxPing = Math.max(...pingMs);
  t.equal(closedAfter.length, SLOW, 'every slow connection was closed by the manager');
  const maxClose = Math.max(...closedAfter);
  t.ok(maxClose < 60_000, `closed within 60 s (slowest ${maxClose} ms; limits: headers 10 s, request 30 s)`);
  t.ok(maxPing < 5_000, `normal requests stayed responsive (max ${maxPing} ms)`);
  const r408 = answers.filter((a) => / 408 /.test(a)).length;
  t.comment(
    `figure api-fuzz.slow-senders: ${SLOW} slow connections (${SLOW / 2} dribbling headers, ${SLOW / 2} a body): all closed by the manager (header dribblers after ${span(headerClosed)}, body dribblers after ${span(bodyClosed)}; limits 10 s / 30 s), ${r408} answered 408 first; ${pingMs.length} pings meanwhile, max ${maxPing} ms`,
  );
});
