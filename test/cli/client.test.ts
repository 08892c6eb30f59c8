// The client pieces without a manager: host resolution, the Engine API client's requests and docker's error
// texts (against a scripted server on a temporary socket), flag validation, and payload reading.
import t, { type Test } from 'tap';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_HOST, resolveEndpoint } from '../../cli/client/endpoint.js';
import { EngineClient, escapePathSegment } from '../../cli/client/engine.js';
import { ConnectionError, DaemonError, CliError } from '../../cli/client/errors.js';
import { ObjectsApi, filtersToJSON } from '../../cli/client/objects.js';
import { addFilter, labelError, labelsToMap, BAD_FILTER } from '../../cli/objects/validate.js';
import { readObjectData } from '../../cli/objects/read-data.js';

const dir = mkdtempSync(join(tmpdir(), 'rs-client-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('host resolution: --host, then RUNSECRETS_HOST, then the local socket', async (t) => {
  t.same(resolveEndpoint({}, {}), { kind: 'unix', url: DEFAULT_HOST, socketPath: '/run/runsecrets/manager.sock' });
  t.same(resolveEndpoint({}, { RUNSECRETS_HOST: 'unix:///tmp/x.sock' }), { kind: 'unix', url: 'unix:///tmp/x.sock', socketPath: '/tmp/x.sock' });
  t.same(resolveEndpoint({ host: 'unix:///a.sock' }, { RUNSECRETS_HOST: 'unix:///b.sock' }).url, 'unix:///a.sock', 'the flag wins');
  t.same(resolveEndpoint({ host: 'tcp://10.0.0.1:4000' }, {}), { kind: 'tcp', url: 'tcp://10.0.0.1:4000', host: '10.0.0.1', port: 4000, tls: null });
  t.equal((resolveEndpoint({ host: 'tcp://h' }, {}) as { port: number }).port, 2375, 'plain TCP defaults to 2375');
  t.throws(() => resolveEndpoint({ host: 'unix://' }, {}), { name: 'EndpointError', message: 'invalid host "unix://": the socket path is empty' });
  t.throws(() => resolveEndpoint({ host: 'http://h:1' }, {}), { message: 'invalid host "http://h:1": use unix:///path/to/socket or tcp://host:port' });
  t.throws(() => resolveEndpoint({ host: 'tcp://h:1', tlscert: '/x' }, {}), { message: 'a client certificate needs both --tlscert and --tlskey' });
  t.throws(() => resolveEndpoint({ host: 'tcp://h:1', tlscert: '/nope/c', tlskey: '/nope/k' }, {}), { message: 'could not read certificate /nope/c: no such file or directory' });
  const certs = join(dir, 'certs');
  mkdirSync(certs);
  for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(certs, f), `${f}\n`);
  const ep = resolveEndpoint({ host: 'tcp://[::1]' }, { RUNSECRETS_CERT_PATH: certs });
  t.equal(ep.kind === 'tcp' && ep.port, 2376, 'TLS defaults to 2376');
  t.equal(ep.kind === 'tcp' && ep.host, '::1');
  t.equal(ep.kind === 'tcp' && ep.tls?.cert?.toString(), 'cert.pem\n', 'RUNSECRETS_CERT_PATH holds ca.pem, cert.pem, key.pem');
});

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

/** A scripted Engine API on a Unix socket: each request gets the next canned answer. */
async function scripted(t: Test, answers: Array<{ status: number; type?: string; body: string }>): Promise<{ socket: string; seen: Seen[] }> {
  const socket = join(dir, `api-${Math.random().toString(36).slice(2)}.sock`);
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString() });
      const a = answers.shift() ?? { status: 500, body: '' };
      res.writeHead(a.status, a.type ? { 'Content-Type': a.type } : {});
      res.end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { socket, seen };
}

t.test('requests: paths, filters, bodies', async (t) => {
  const { socket, seen } = await scripted(t, [
    { status: 200, type: 'application/json', body: '[]' },
    { status: 201, type: 'application/json', body: '{"ID":"abc"}\n' },
    { status: 200, type: 'application/json', body: '{"ID":"abc"}\n' },
    { status: 204, body: '' },
  ]);
  const api = new ObjectsApi(new EngineClient({ kind: 'unix', url: `unix://${socket}`, socketPath: socket }), 'config');
  const filters = new Map([['name', new Set(['b', 'a'])], ['label', new Set(['k=v'])]]);
  t.same(await api.list(filters), []);
  t.equal(await api.create({ Name: 'n', Labels: {}, Data: 'eA==' }), 'abc');
  t.same((await api.inspect(' a b/c ')).raw, '{"ID":"abc"}\n', 'the raw body is kept');
  await api.remove('x');
  t.equal(seen[0]!.url, '/v1.47/configs?filters=' + encodeURIComponent('{"label":{"k=v":true},"name":{"a":true,"b":true}}').replace(/%20/g, '+'));
  t.same({ m: seen[1]!.method, u: seen[1]!.url, ct: seen[1]!.contentType, b: JSON.parse(seen[1]!.body) }, {
    m: 'POST',
    u: '/v1.47/configs/create',
    ct: 'application/json',
    b: { Name: 'n', Labels: {}, Data: 'eA==' },
  });
  t.equal(seen[2]!.url, '/v1.47/configs/a%20b%2Fc', 'the reference is trimmed and escaped as one path segment');
  t.same([seen[3]!.method, seen[3]!.url], ['DELETE', '/v1.47/configs/x']);
  await t.rejects(api.inspect('  '), new CliError('invalid config name or ID: value is empty'));
  t.equal(filtersToJSON(new Map()), '{}');
  t.equal(escapePathSegment('a:b@c$&+,;=~x y%é'), 'a:b@c$&+,;=~x%20y%25%C3%A9');
});

t.test("docker's error texts for 4xx/5xx answers", async (t) => {
  const { socket } = await scripted(t, [
    { status: 404, type: 'application/json', body: '{"message":"secret nope not found"}\n' },
    { status: 409, type: 'application/json', body: '{"message":"  padded  "}' },
    { status: 400, type: 'application/json', body: '{"other":1}' },
    { status: 500, type: 'text/plain', body: 'plain failure\n' },
    { status: 503, type: 'application/json; charset=utf-8', body: '{"message":"x"}' },
    { status: 404, body: '' },
    { status: 400, type: 'application/json', body: '{bad json' },
  ]);
  const client = new EngineClient({ kind: 'unix', url: `unix://${socket}`, socketPath: socket });
  const err = async (): Promise<string> => {
    try {
      await client.call('GET', '/secrets/nope');
      return 'no error';
    } catch (e) {
      t.type(e, DaemonError);
      return (e as Error).message;
    }
  };
  t.equal(await err(), 'Error response from daemon: secret nope not found');
  t.equal(await err(), 'Error response from daemon: padded');
  t.equal(await err(), 'Error response from daemon: API returned a 400 (Bad Request) but provided no error-message');
  t.equal(await err(), 'Error response from daemon: plain failure');
  t.equal(await err(), 'Error response from daemon: {"message":"x"}', 'only exactly application/json is parsed, as in docker');
  t.equal(
    await err(),
    'request returned 404 Not Found for API route and version http://api.moby.localhost/v1.47/secrets/nope, check if the server supports the requested API version',
  );
  t.match(await err(), /^Error reading JSON: /);
});

t.test('no manager: a connection error', async (t) => {
  const socket = join(dir, 'absent.sock');
  const client = new EngineClient({ kind: 'unix', url: `unix://${socket}`, socketPath: socket });
  await t.rejects(client.call('GET', '/secrets'), new ConnectionError(`Cannot connect to the runsecrets manager at unix://${socket}. Is the manager running?`));
});

t.test('labels and filters are checked as docker checks them', async (t) => {
  t.equal(labelError('a=b'), null);
  t.equal(labelError('flag'), null);
  t.equal(labelError(' a=b c'), null, 'leading blanks and blanks in the value are fine');
  t.equal(labelError('=x'), "invalid label '=x': empty name");
  t.equal(labelError('  '), "invalid label '  ': empty name");
  t.equal(labelError(' a b=x'), "label 'a b' contains whitespaces");
  t.same(labelsToMap(['a=1', 'b', 'c=x=y', 'a=2']), { a: '2', b: '', c: 'x=y' });
  const f = new Map<string, Set<string>>();
  t.equal(addFilter(f, ' NAME = x '), null);
  t.equal(addFilter(f, ''), null, 'an empty filter is ignored');
  t.equal(addFilter(f, 'label=a=b'), null);
  t.equal(addFilter(f, 'novalue'), BAD_FILTER);
  t.same([...f.entries()].map(([k, v]) => [k, [...v]]), [['name', ['x']], ['label', ['a=b']]]);
});

t.test('payload files: docker read errors and the read cap', async (t) => {
  await t.rejects(readObjectData('secret', ''), { message: 'secret file is required' });
  await t.rejects(readObjectData('config', ''), { message: 'config file is required' });
  const missing = join(dir, 'missing');
  await t.rejects(readObjectData('secret', missing), { message: `error reading from ${missing}: open ${missing}: no such file or directory` });
  await t.rejects(readObjectData('secret', dir), { message: `error reading from ${dir}: read ${dir}: is a directory` });
  const empty = join(dir, 'empty');
  writeFileSync(empty, '');
  await t.rejects(readObjectData('secret', empty), { message: `error reading from ${empty}: data is empty` });
  const big = join(dir, 'big');
  writeFileSync(big, Buffer.alloc(3_000_000, 1));
  t.equal((await readObjectData('secret', big)).length, 1_024_000, 'secrets: at most 2 x 500 KiB is read');
  t.equal((await readObjectData('config', big)).length, 2_048_000, 'configs: at most 2 x 1000 KiB is read');
  if (process.getuid?.() !== 0) {
    const locked = join(dir, 'locked');
    writeFileSync(locked, 'x');
    chmodSync(locked, 0);
    await t.rejects(readObjectData('secret', locked), { message: `error reading from ${locked}: open ${locked}: permission denied` });
  }
});
