// The one skopeo argv builder and its auth file: credentials only in a 0600 file in a 0700 dir, removed after;
// skopeo's messages classified as Docker needs them.
import t from 'tap';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { classifySkopeoMessage, copyArgv, inspectArgv, skopeoMessage, withAuthFile } from '../../shared/skopeo.js';

const ep = { host: '127.0.0.1:5000', path: 'busybox', tlsVerify: false, mirror: false };
const D = 'sha256:' + 'b'.repeat(64);

t.test('argv: by digest into the layout tag, TLS per rule, an authfile always', async (t) => {
  t.same(copyArgv(ep, D, '/s/oci', 'sha256-x', '/tmp/a/auth.json'), [
    'copy', '--quiet', '--retry-times', '0', '--src-tls-verify=false', '--src-authfile', '/tmp/a/auth.json', `docker://127.0.0.1:5000/busybox@${D}`, 'oci:/s/oci:sha256-x',
  ]);
  t.same(inspectArgv({ ...ep, host: 'docker.io', path: 'library/busybox', tlsVerify: true }, { tag: 'latest' }, '/a', 'manifest'), [
    'inspect', '--retry-times', '0', '--raw', '--tls-verify=true', '--authfile', '/a', 'docker://docker.io/library/busybox:latest',
  ]);
  t.ok(inspectArgv(ep, { digest: D }, null, 'config').includes('--config'));
});

t.test('the auth file: 0600 in a private dir, the registry host as key, gone afterwards', async (t) => {
  let seen = '';
  const body = await withAuthFile('127.0.0.1:5000', { username: 'u', password: 's3cret' }, async (file) => {
    seen = file;
    t.equal(statSync(file).mode & 0o777, 0o600);
    t.equal(statSync(dirname(file)).mode & 0o777, 0o700);
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  });
  t.same(body, { auths: { '127.0.0.1:5000': { auth: Buffer.from('u:s3cret').toString('base64') } } });
  t.notOk(existsSync(dirname(seen)), 'removed');
  await t.rejects(withAuthFile('h', undefined, async () => {
    throw new Error('boom');
  }), { message: 'boom' });
  const empty = await withAuthFile('h', undefined, async (f) => readFileSync(f, 'utf8'));
  t.equal(empty, '{"auths":{}}', 'no credentials: an empty file, so the host\'s own auth.json is not used');
  t.same(await withAuthFile('h', { identitytoken: 'tok' }, async (f) => JSON.parse(readFileSync(f, 'utf8')) as unknown), { auths: { h: { identitytoken: 'tok' } } });
});

t.test("skopeo's messages, classified", async (t) => {
  const line = (m: string): string => `time="2026-01-01T00:00:00Z" level=fatal msg=${JSON.stringify(m)}\n`;
  t.equal(skopeoMessage(line('a "quoted" b')), 'a "quoted" b');
  t.same(classifySkopeoMessage('initializing source docker://x/b:nope: reading manifest nope in x/b: manifest unknown: manifest unknown'), { kind: 'manifest-unknown', cause: 'manifest unknown: manifest unknown' });
  t.same(classifySkopeoMessage('reading manifest 1 in x/b: unauthorized: authentication required'), { kind: 'denied', cause: 'unauthorized: authentication required' });
  t.same(classifySkopeoMessage('pinging container registry 127.0.0.1:9: Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection refused'), {
    kind: 'unreachable',
    cause: 'Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection refused',
  });
  t.same(classifySkopeoMessage('reading manifest 1 in x/b: name unknown: repository name not known to registry'), { kind: 'name-unknown', cause: 'name unknown: repository name not known to registry' });
  t.equal(classifySkopeoMessage('something else').kind, 'other');
});
