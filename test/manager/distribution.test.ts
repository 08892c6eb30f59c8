// GET /distribution/{name}/json against real registries on 127.0.0.1 and the stock docker CLI: service create pins
// image@sha256 with no warning, --no-resolve-image keeps the tag, a --registry-mirror serves Docker Hub names,
// X-Registry-Auth reaches an htpasswd registry, and errors carry Docker's wording.
import t from 'tap';
import { dockerCli } from '../helpers/docker-cli.js';
import { haveDocker, isRoot, request, startManager, type CliResult, type ManagerHandle } from '../helpers/manager.js';
import { busyboxLayout, imageToolSkipReason, pushImage, registryDigest, startRegistry, type TestRegistry } from '../helpers/images.js';

const why = !isRoot() ? 'the manager runs as root; run the tests as root' : !haveDocker() ? 'no docker CLI on PATH' : imageToolSkipReason();
if (why) {
  t.plan(0, `skipped: ${why}`);
  process.exit(0);
}

await busyboxLayout();
const reg = await startRegistry();
t.teardown(() => reg.close());
await pushImage(reg, '1', 'busybox:1');
const digest = await registryDigest(reg, 'busybox', '1');
const mirror = await startRegistry();
t.teardown(() => mirror.close());
await pushImage(mirror, 'nginx', 'library/busybox:latest');
const mirrorDigest = await registryDigest(mirror, 'library/busybox', 'latest');

const m = await startManager({ tcp: false, t, runArgs: ['--registry-mirror', `http://${mirror.host}`] });
const cli = dockerCli();
t.teardown(() => cli.cleanup());

function docker(mgr: ManagerHandle, args: string[]): Promise<CliResult> {
  return cli.run(mgr.dockerHost, args);
}

async function specImage(mgr: ManagerHandle, name: string): Promise<string> {
  const r = await docker(mgr, ['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', name]);
  if (r.code !== 0) throw new Error(`service inspect ${name}: ${r.stderr}`);
  return r.stdout.trim();
}

const warning = (img: string): string =>
  `image ${img} could not be accessed on a registry to record\nits digest. Each node will access ${img} independently,\npossibly leading to different nodes running different\nversions of the image.\n`;

t.test('the route answers Docker\'s shape', async (t) => {
  const r = await request(m.socket, 'GET', `/v1.47/distribution/${reg.host}/busybox:1/json`);
  t.equal(r.status, 200, r.text);
  const body = r.json as { Descriptor: { mediaType: string; digest: string; size: number }; Platforms: unknown[] };
  t.equal(body.Descriptor.digest, digest);
  t.equal(body.Descriptor.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  t.ok(body.Descriptor.size > 0);
  t.same(body.Platforms, [], 'an OCI single manifest has no platforms (moby has no case for it)');

  const missing = await request(m.socket, 'GET', `/distribution/${reg.host}/busybox:nope/json`);
  t.equal(missing.status, 404);
  t.same(missing.json, { message: `manifest for ${reg.host}/busybox:nope not found: manifest unknown: manifest unknown` });
  const bad = await request(m.socket, 'GET', '/distribution/Bad/json');
  t.equal(bad.status, 400);
  t.same(bad.json, { message: 'invalid reference format: repository name must be lowercase' });
  const id = await request(m.socket, 'GET', `/distribution/${'a'.repeat(64)}/json`);
  t.same([id.status, id.json], [400, { message: 'no manifest found for full image ID' }]);
});

t.test('docker service create pins the digest with no warning; --no-resolve-image keeps the tag', async (t) => {
  const created = await docker(m, ['service', 'create', '--detach', '--name', 'pinned', `${reg.host}/busybox:1`]);
  t.equal(created.code, 0, created.stderr);
  t.equal(created.stderr, '', 'no warning');
  t.equal(await specImage(m, 'pinned'), `${reg.host}/busybox:1@${digest}`);

  const unresolved = await docker(m, ['service', 'create', '--detach', '--no-resolve-image', '--name', 'tagged', `${reg.host}/busybox:1`]);
  t.equal(unresolved.code, 0, unresolved.stderr);
  t.equal(await specImage(m, 'tagged'), `${reg.host}/busybox:1`);

  const missing = await docker(m, ['service', 'create', '--detach', '--name', 'missing', `${reg.host}/busybox:nope`]);
  t.equal(missing.code, 0, 'created anyway, as Docker does');
  t.equal(missing.stderr, warning(`${reg.host}/busybox:nope`) + '\n', "Docker's warning when the registry cannot say");
  t.equal(await specImage(m, 'missing'), `${reg.host}/busybox:nope`);
});

t.test('--registry-mirror: busybox (docker.io) resolves on the mirror', async (t) => {
  const created = await docker(m, ['service', 'create', '--detach', '--name', 'hub', 'busybox']);
  t.equal(created.code, 0, created.stderr);
  t.equal(created.stderr, '');
  t.equal(await specImage(m, 'hub'), `busybox:latest@${mirrorDigest}`);
});

t.test('X-Registry-Auth reaches a registry that needs credentials', async (t) => {
  const creds = { username: 'puller', password: 'pw-' + Math.random().toString(36).slice(2) };
  const locked: TestRegistry = await startRegistry({ creds });
  t.teardown(() => locked.close());
  await pushImage(locked, '1', 'busybox:1', creds);
  const path = `/distribution/${locked.host}/busybox:1/json`;
  const header = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

  const none = await request(m.socket, 'GET', path);
  t.equal(none.status, 404);
  t.match((none.json as { message: string }).message, `pull access denied for ${locked.host}/busybox, repository does not exist or may require 'docker login': `);
  const garbage = await request(m.socket, 'GET', path, undefined, { 'X-Registry-Auth': '!!not base64 json' });
  t.equal(garbage.status, 404, 'an invalid header is ignored, as Docker does here');
  const ok = await request(m.socket, 'GET', path, undefined, { 'X-Registry-Auth': header({ ...creds, serveraddress: locked.host }) });
  t.equal(ok.status, 200, ok.text);
  t.match((ok.json as { Descriptor: { digest: string } }).Descriptor.digest, /^sha256:[a-f0-9]{64}$/);
  t.notMatch(m.logs(), creds.password, 'the password is not in the manager log');
});
