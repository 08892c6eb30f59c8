// Bad input gets a clear 4xx, the manager stays up and the store is unchanged; a race on one name has one winner.
import t from 'tap';
import net from 'node:net';
import { isRoot, request, startManager, type ApiResponse } from '../helpers/manager.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const m = await startManager();
t.teardown(() => m.cleanup());
const api = (method: string, path: string, body?: unknown, headers?: Record<string, string | number>): Promise<ApiResponse> =>
  request(m.socket, method, path, body, headers);
const msg = (r: ApiResponse): string => (r.json as { message?: string } | undefined)?.message ?? r.text;

async function snapshot(): Promise<string> {
  const s = await api('GET', '/secrets');
  const c = await api('GET', '/configs');
  return s.text + c.text;
}

/** Sends raw bytes on a fresh connection and returns whatever comes back before the server closes it. */
function raw(data: string | Buffer, endAfterWrite = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(m.socket);
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('close', () => resolve(Buffer.concat(chunks).toString()));
    c.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    c.write(data);
    if (endAfterWrite) c.end();
  });
}

t.test('malformed bodies and wrong types', async (t) => {
  await api('POST', '/secrets/create', { Name: 'keep', Data: Buffer.from('x').toString('base64') });
  const before = await snapshot();
  const cases: [string, string | Buffer, RegExp | string][] = [
    ['/secrets/create', '{"Name": "x", "Data": ', /^invalid JSON: /],
    ['/secrets/create', '', 'invalid JSON: got EOF while reading request body'],
    ['/secrets/create', '[1,2]', 'invalid JSON: json: cannot unmarshal array into Go value of type swarm.SecretSpec'],
    ['/secrets/create', '"str"', 'invalid JSON: json: cannot unmarshal string into Go value of type swarm.SecretSpec'],
    ['/secrets/create', '{"Name": 5, "Data": "eA=="}', 'invalid JSON: json: cannot unmarshal number into Go struct field SecretSpec.Name of type string'],
    ['/secrets/create', '{"Name": "x", "Data": 5}', 'invalid JSON: json: cannot unmarshal number into Go struct field SecretSpec.Data of type []uint8'],
    ['/secrets/create', '{"Name": "x", "Labels": [], "Data": "eA=="}', 'invalid JSON: json: cannot unmarshal array into Go struct field SecretSpec.Labels of type map[string]string'],
    ['/secrets/create', '{"Name": "x", "Labels": {"a": 1}, "Data": "eA=="}', 'invalid JSON: json: cannot unmarshal number into Go struct field SecretSpec.Labels of type string'],
    ['/secrets/create', '{"Name": "x", "Data": "not base64!"}', 'invalid JSON: illegal base64 data at input byte 3'],
    ['/secrets/create', '{"Name": "x", "Data": "eA="}', /^invalid JSON: illegal base64 data at input byte \d+$/],
    ['/configs/create', '{"Name": "x", "Data": "%%%%"}', 'invalid JSON: illegal base64 data at input byte 0'],
    ['/secrets/create', Buffer.from([0xff, 0xfe, 0x00]), /^invalid JSON: /],
  ];
  for (const [path, body, want] of cases) {
    const r = await api('POST', path, body);
    t.equal(r.status, 400, `${String(body).slice(0, 40)} -> 400`);
    t.match(msg(r), want);
    t.equal(r.headers['content-type'], 'application/json');
  }
  // A broken body is never quoted back (nor logged): it may hold secret bytes.
  const refusals = (): number => m.logs().split('"msg":"request refused"').length - 1;
  const refusedBefore = refusals();
  for (const body of ['{"Name": "x", "Data": "c2VjcmV0TWFya2Vy" oops', 'SecretMarker{}', '{"Name": SecretMarker}']) {
    const r = await api('POST', '/secrets/create', body);
    t.equal(r.status, 400);
    t.notMatch(r.text, /SecretMarker|c2VjcmV0TWFya2Vy|oops/, `not echoed: ${msg(r)}`);
  }
  // Log lines are written off the manager's event loop: wait for these three refusals' lines before looking.
  for (let i = 0; i < 200 && refusals() < refusedBefore + 3; i++) await new Promise((r) => setTimeout(r, 25));
  t.ok(refusals() >= refusedBefore + 3, 'the three refusals are logged (at debug)');
  t.notMatch(m.logs(), /SecretMarker|c2VjcmV0TWFya2Vy/, 'not logged');
  const ct = await api('POST', '/secrets/create', '{"Name":"x","Data":"eA=="}', { 'Content-Type': 'text/plain' });
  t.equal(msg(ct), "unsupported Content-Type header (text/plain): must be 'application/json'");
  t.equal(await snapshot(), before, 'store unchanged');
});

t.test('huge bodies: refused early with 413, whether declared or chunked', async (t) => {
  const before = await snapshot();
  // Declared far over the limit, and no body sent at all: the answer must come without waiting for it.
  const declared = await raw('POST /secrets/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n', false);
  t.match(declared, /^HTTP\/1.1 413 /);
  t.match(declared, /request body too large: the limit for this request is \d+ bytes/);
  // Chunked, growing past the limit: cut off.
  const big = Buffer.alloc(4 << 20, 0x61);
  const r = await api('POST', '/secrets/create', big, { 'Transfer-Encoding': 'chunked' }).catch((e: Error) => e);
  if (r instanceof Error) t.match(r.message, /EPIPE|ECONNRESET|socket hang up/, 'connection cut while sending');
  else {
    t.equal(r.status, 413);
    t.match(msg(r), /request body too large/);
  }
  const cfg = await api('POST', '/configs/create', Buffer.alloc(8 << 20, 0x61)).catch((e: Error) => e);
  if (!(cfg instanceof Error)) t.equal(cfg.status, 413);
  const unlock = await api('POST', '/swarm/unlock', Buffer.alloc(1 << 20, 0x61)).catch((e: Error) => e);
  if (!(unlock instanceof Error)) t.equal(unlock.status, 413, 'small routes have small limits');
  t.equal((await api('GET', '/_ping')).status, 200, 'still up');
  t.equal(await snapshot(), before, 'store unchanged');
});

t.test('garbage on the wire does not take the manager down', async (t) => {
  const out = await raw('THIS IS NOT HTTP\r\n\r\n');
  t.match(out, /400|^$/);
  await raw(Buffer.alloc(100_000, 0));
  t.equal((await api('GET', '/_ping')).status, 200);
});

t.test('50 concurrent creates of one name: exactly one succeeds', async (t) => {
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => api('POST', '/v1.47/secrets/create', { Name: i % 2 ? 'race' : 'RACE', Data: Buffer.from(`v${i}`).toString('base64') })),
  );
  const ok = results.filter((r) => r.status === 201);
  t.equal(ok.length, 1, 'one winner');
  t.ok(results.every((r) => r.status === 201 || (r.status === 409 && /^rpc error: code = AlreadyExists desc = secret (race|RACE) already exists$/.test(msg(r)))));
  const list = (await api('GET', `/secrets?filters=${encodeURIComponent('{"names":{"race":true}}')}`)).json as { ID: string }[];
  t.equal(list.length, 1);
  t.equal(list[0]?.ID, (ok[0]?.json as { ID: string }).ID);
});
