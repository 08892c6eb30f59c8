// Image references as Docker normalises them, and dockerd's registry rules (loopback/insecure, mirrors).
import t from 'tap';
import { canonicalString, familiarString, parseImageRef, withDefaultTag } from '../../shared/image-ref.js';
import { isInsecureRegistry, makeRules, pullEndpoints, RegistryRuleError } from '../../shared/registry-rules.js';
import { decodeRegistryAuth } from '../../shared/registry-auth.js';

const D = 'sha256:' + 'a'.repeat(64);

t.test('normalisation: busybox is docker.io/library/busybox:latest', async (t) => {
  const r = parseImageRef('busybox');
  t.same(r, { domain: 'docker.io', path: 'library/busybox' });
  t.equal(canonicalString(withDefaultTag(r)), 'docker.io/library/busybox:latest');
  t.equal(familiarString(withDefaultTag(r)), 'busybox:latest');
  t.same(parseImageRef('user/app:1'), { domain: 'docker.io', path: 'user/app', tag: '1' });
  t.same(parseImageRef('index.docker.io/library/redis:alpine'), { domain: 'docker.io', path: 'library/redis', tag: 'alpine' });
  t.equal(familiarString(parseImageRef('docker.io/library/redis:alpine')), 'redis:alpine');
});

t.test('registry domains: a dot, a port, or localhost', async (t) => {
  t.same(parseImageRef('127.0.0.1:5000/busybox:1'), { domain: '127.0.0.1:5000', path: 'busybox', tag: '1' });
  t.same(parseImageRef('localhost/a/b'), { domain: 'localhost', path: 'a/b' });
  t.same(parseImageRef('quay.io/x/y@' + D), { domain: 'quay.io', path: 'x/y', digest: D });
  t.same(parseImageRef(`127.0.0.1:5000/busybox:1@${D}`), { domain: '127.0.0.1:5000', path: 'busybox', tag: '1', digest: D });
  t.equal(familiarString(parseImageRef(`127.0.0.1:5000/busybox:1@${D}`)), `127.0.0.1:5000/busybox:1@${D}`);
  t.same(withDefaultTag(parseImageRef(`busybox@${D}`)), { domain: 'docker.io', path: 'library/busybox', digest: D }, 'a digest needs no tag');
});

t.test('bad references: Docker texts', async (t) => {
  t.throws(() => parseImageRef(''), { message: 'invalid reference format' });
  t.throws(() => parseImageRef('Busybox'), { message: 'invalid reference format: repository name must be lowercase' });
  t.throws(() => parseImageRef('busybox@sha256:abc'), { message: 'invalid reference format' });
  t.throws(() => parseImageRef('busy box'), { message: 'invalid reference format' });
  t.throws(() => parseImageRef('a:b:c'), { message: 'invalid reference format' });
  t.throws(() => parseImageRef('a/'), { message: 'invalid reference format' });
});

t.test('loopback registries and --insecure-registry ones skip TLS; others verify', async (t) => {
  const none = makeRules([], []);
  for (const d of ['127.0.0.1:5000', '127.9.9.9', 'localhost:5000', '[::1]:5000']) t.ok(isInsecureRegistry(d, none), d);
  for (const d of ['docker.io', '10.0.0.1:5000', 'registry.example:5000']) t.notOk(isInsecureRegistry(d, none), d);
  const rules = makeRules(['http://registry.example:5000', '10.0.0.0/8'], []);
  t.ok(isInsecureRegistry('registry.example:5000', rules), 'host:port entry, scheme stripped');
  t.ok(isInsecureRegistry('10.1.2.3:5000', rules), 'CIDR entry');
  t.notOk(isInsecureRegistry('registry.example:6000', rules), 'another port is not listed');
  let caught: unknown = null;
  try {
    makeRules(['ftp://x'], []);
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof RegistryRuleError, 'a RegistryRuleError');
  t.throws(() => makeRules(['ftp://x'], []), { message: "insecure registry ftp://x should not contain '://'" });
});

t.test('mirrors: tried first, for Docker Hub images only', async (t) => {
  const rules = makeRules([], ['http://127.0.0.1:5001', 'https://mirror.example']);
  t.same(pullEndpoints(parseImageRef('busybox'), rules), [
    { host: '127.0.0.1:5001', path: 'library/busybox', tlsVerify: false, mirror: true },
    { host: 'mirror.example', path: 'library/busybox', tlsVerify: true, mirror: true },
    { host: 'docker.io', path: 'library/busybox', tlsVerify: true, mirror: false },
  ]);
  t.same(pullEndpoints(parseImageRef('127.0.0.1:6000/app:1'), rules), [{ host: '127.0.0.1:6000', path: 'app', tlsVerify: false, mirror: false }]);
  t.throws(() => makeRules([], ['ftp://m']), { message: 'invalid mirror: unsupported scheme "ftp" in "ftp://m"' });
  t.throws(() => makeRules([], ['http://u:p@m']), { message: 'invalid mirror: username/password not allowed in URI "http://u:p@m"' });
  t.throws(() => makeRules([], ['http://m/?q=1']), { message: 'invalid mirror: query or fragment at end of the URI "http://m/?q=1"' });
});

t.test('X-Registry-Auth decoding: base64url JSON, "auth" field, garbage ignored', async (t) => {
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  t.same(decodeRegistryAuth(enc({ username: 'u', password: 'p', serveraddress: 'r:5000', email: 'x' })), { username: 'u', password: 'p', serveraddress: 'r:5000' });
  t.same(decodeRegistryAuth(enc({ auth: Buffer.from('u:p:q').toString('base64') })), { username: 'u', password: 'p:q' });
  t.same(decodeRegistryAuth(enc({ identitytoken: 'tok' })), { identitytoken: 'tok' });
  t.equal(decodeRegistryAuth('!!'), undefined);
  t.equal(decodeRegistryAuth(enc([1])), undefined);
  t.equal(decodeRegistryAuth(enc({})), undefined);
  t.equal(decodeRegistryAuth(undefined), undefined);
});
