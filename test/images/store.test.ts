// The agent's image store against real registries (Debian's docker-registry on 127.0.0.1) and the offline-built
// busybox images: pulls by tag and digest, the store answering with the registry gone, shared layers stored once,
// coalesced pulls, gc, mirrors for Docker Hub names, Docker's error wording, and registry credentials that never
// reach skopeo's argv.
import t from 'tap';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ImagePullError, ImageStore } from '../../agent/images/store.js';
import { countBlobs } from '../../agent/images/oci-layout.js';
import { makeRules } from '../../shared/registry-rules.js';
import { busyboxLayout, imageToolSkip, pushImage, registryDigest, startRegistry, type TestRegistry } from '../helpers/images.js';

const skip = imageToolSkip();

function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rs-imgstore-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A skopeo wrapper that records each invocation's argv (one line each) and, for --src-authfile, the file's mode. */
function skopeoSpy(): { log: string; calls(): string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'rs-skopeo-spy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'calls.log');
  const wrapper = join(dir, 'skopeo');
  writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      `printf '%s\\n' "$*" >> '${log}'`,
      'prev=""; for a in "$@"; do if [ "$prev" = --src-authfile ] || [ "$prev" = --authfile ]; then ' +
        `stat -c 'authfile-mode %a' "$a" >> '${log}'; fi; prev="$a"; done`,
      'exec skopeo "$@"',
      '',
    ].join('\n'),
  );
  chmodSync(wrapper, 0o755);
  process.env.RUNSECRETS_SKOPEO = wrapper;
  t.teardown(() => {
    delete process.env.RUNSECRETS_SKOPEO;
  });
  return { log, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []) };
}

async function registryWith(...images: Array<[tag: string, repoTag: string]>): Promise<TestRegistry> {
  const r = await startRegistry();
  t.teardown(() => r.close());
  for (const [tag, repoTag] of images) await pushImage(r, tag, repoTag);
  return r;
}

t.test('image store', skip, async (t) => {
  await busyboxLayout();
  const reg = await registryWith(['1', 'busybox:1'], ['nginx', 'busybox:nginx']);
  const d1 = await registryDigest(reg, 'busybox', '1');
  const dNginx = await registryDigest(reg, 'busybox', 'nginx');

  t.test('pull by tag, then by digest, then with the registry gone; shared layers stored once; gc', async (t) => {
    const store = new ImageStore({ stateDir: stateDir() });
    const img = await store.pull(`${reg.host}/busybox:1`);
    t.equal(img.digest, d1, 'stored under the manifest digest the registry serves');
    t.ok(statSync(join(img.rootfs, 'bin/busybox')).isFile(), 'unpacked: /bin/busybox');
    t.match(readFileSync(join(img.rootfs, 'etc/passwd'), 'utf8'), /^user:x:1000:1000:/m);
    t.same(img.config.cmd, ['sh']);
    t.equal(img.config.entrypoint, null);
    t.ok(img.config.env.some((e) => e.startsWith('PATH=')));
    t.equal(img.config.labels['org.opencontainers.image.title'], 'busybox-fixture');
    t.equal(await countBlobs(store.layout), 3, 'manifest, config, one layer');

    const byDigest = await store.pull(`${reg.host}/busybox@${d1}`);
    t.equal(byDigest.rootfs, img.rootfs, 'the same unpacked tree');

    const nginx = await store.pull(`${reg.host}/busybox:nginx`);
    t.equal(nginx.digest, dNginx);
    t.ok(statSync(join(nginx.rootfs, 'etc/nginx/conf.d')).isDirectory());
    t.same(nginx.config.cmd, ['sleep', '3600']);
    t.equal(await countBlobs(store.layout), 6, 'the shared busybox layer is stored once: 2 manifests, 2 configs, 2 layers (not 7 blobs)');

    await reg.stop();
    const offline = await store.pull(`${reg.host}/busybox@${d1}`);
    t.equal(offline.digest, d1, 'a stored digest needs no registry');
    await t.rejects(store.pull(`${reg.host}/busybox:1`), { message: `No such image: ${reg.host}/busybox:1` }, 'a tag needs the registry');
    try {
      await store.pull(`${reg.host}/busybox:1`);
    } catch (err) {
      t.ok(err instanceof ImagePullError);
      t.match((err as ImagePullError).detail, /connection refused/, `dockerd's cause: ${(err as ImagePullError).detail}`);
      t.equal((err as ImagePullError).kind, 'unreachable');
    }

    const gc = await store.gc([d1]);
    t.same(gc.removedImages, [dNginx]);
    t.equal(gc.blobsBefore, 6);
    t.equal(gc.blobsAfter, 3, "the nginx image's own manifest, config and layer are gone; the shared layer stays");
    t.equal(await store.get(dNginx), null);
    t.notOk(existsSync(nginx.bundle), 'its unpacked tree is removed');
    t.ok((await store.get(d1)) !== null, 'the kept image is still there');
    t.same(await store.list(), [d1]);
    const all = await store.gc([]);
    t.equal(all.blobsAfter, 0);
  });
});

t.test('concurrent pulls of one image coalesce into one copy', skip, async (t) => {
  const reg = await registryWith(['1', 'busybox:1']);
  const spy = skopeoSpy();
  const store = new ImageStore({ stateDir: stateDir() });
  const ref = `${reg.host}/busybox:1`;
  const got = await Promise.all([store.pull(ref), store.pull(ref), store.pull(ref)]);
  t.equal(new Set(got.map((g) => g.digest)).size, 1);
  const copies = spy.calls().filter((l) => l.startsWith('copy '));
  const inspects = spy.calls().filter((l) => l.startsWith('inspect '));
  t.equal(copies.length, 1, 'one skopeo copy');
  t.equal(inspects.length, 1, 'one tag resolution');
  // A digest reference next to a tag reference of the same image: one copy still.
  const store2 = new ImageStore({ stateDir: stateDir() });
  const digest = got[0]!.digest;
  await Promise.all([store2.pull(ref), store2.pull(`${reg.host}/busybox@${digest}`)]);
  t.equal(spy.calls().filter((l) => l.startsWith('copy ')).length, 2, 'one more copy for the second store');
});

t.test('missing images: Docker wording', skip, async (t) => {
  const reg = await registryWith(['1', 'busybox:1']);
  const store = new ImageStore({ stateDir: stateDir() });
  try {
    await store.pull(`${reg.host}/busybox:nope`);
    t.fail('pulled a tag that does not exist');
  } catch (err) {
    t.ok(err instanceof ImagePullError);
    const e = err as ImagePullError;
    t.equal(e.message, `No such image: ${reg.host}/busybox:nope`);
    t.equal(e.detail, `manifest for ${reg.host}/busybox:nope not found: manifest unknown: manifest unknown`);
  }
  await t.rejects(store.pull(`${reg.host}/nothere`), { message: `No such image: ${reg.host}/nothere:latest` }, 'bare name gets :latest');
  await t.rejects(store.pull('Bad/Name'), { message: 'No such image: Bad/Name', detail: 'invalid reference format: repository name must be lowercase' });
  t.same(await store.list(), [], 'nothing half-stored');
});

t.test('registry rules: localhost is plain HTTP; --registry-mirror serves Docker Hub names', skip, async (t) => {
  const reg = await registryWith(['1', 'busybox:1']);
  const store = new ImageStore({ stateDir: stateDir() });
  const viaName = await store.pull(`localhost:${reg.port}/busybox:1`);
  t.equal(viaName.digest, await registryDigest(reg, 'busybox', '1'), 'localhost counts as loopback');

  const mirror = await registryWith(['nginx', 'library/busybox:latest']);
  const mirrored = new ImageStore({ stateDir: stateDir(), rules: makeRules([], [`http://${mirror.host}`]) });
  const img = await mirrored.pull('busybox');
  t.equal(img.digest, await registryDigest(mirror, 'library/busybox', 'latest'), 'busybox (docker.io) came from the mirror');
  t.ok(statSync(join(img.rootfs, 'etc/nginx/conf.d')).isDirectory());
  // Without the mirror, the same name must go to docker.io, which this machine cannot reach: the pull fails.
  const plain = new ImageStore({ stateDir: stateDir() });
  await t.rejects(plain.pull('busybox'), { message: 'No such image: busybox:latest' });
  // A mirror that lacks the image falls back to docker.io (unreachable here): the error is docker.io's, the last tried.
  const missing = await mirrored.pull('alpine:3.10').catch((e: unknown) => e);
  t.ok(missing instanceof ImagePullError);
  t.notMatch((missing as ImagePullError).detail, /manifest unknown/, `the last endpoint's error is shown: ${(missing as ImagePullError).detail}`);
});

t.test('registry credentials: needed, used, and never in argv', skip, async (t) => {
  const creds = { username: 'puller', password: 'pw-' + Math.random().toString(36).slice(2) };
  const reg = await startRegistry({ creds });
  t.teardown(() => reg.close());
  await pushImage(reg, '1', 'busybox:1', creds);
  const spy = skopeoSpy();
  const store = new ImageStore({ stateDir: stateDir() });

  const denied = await store.pull(`${reg.host}/busybox:1`).catch((e: unknown) => e);
  t.ok(denied instanceof ImagePullError, 'without credentials the pull fails');
  t.equal((denied as ImagePullError).message, `No such image: ${reg.host}/busybox:1`);
  t.match(
    (denied as ImagePullError).detail,
    new RegExp(`^pull access denied for ${reg.host.replace(/\./g, '\\.')}/busybox, repository does not exist or may require 'docker login': `),
  );

  const wrong = await store.pull(`${reg.host}/busybox:1`, { auth: { ...creds, password: 'wrong' } }).catch((e: unknown) => e);
  t.equal((wrong as ImagePullError).kind, 'denied', 'a wrong password fails');
  const img = await store.pull(`${reg.host}/busybox:1`, { auth: creds });
  t.match(img.digest, /^sha256:[a-f0-9]{64}$/);
  t.ok(statSync(join(img.rootfs, 'bin/busybox')).isFile());

  const calls = spy.calls();
  t.ok(calls.length >= 3);
  t.notOk(calls.some((l) => l.includes(creds.password)), 'the password is in no skopeo argv');
  t.notOk(calls.some((l) => l.includes(Buffer.from(`${creds.username}:${creds.password}`).toString('base64'))), 'nor its base64 form');
  t.ok(calls.some((l) => l.includes('--src-authfile') || l.includes('--authfile')), 'credentials go through an authfile');
  t.ok(calls.filter((l) => l.startsWith('authfile-mode')).every((l) => l === 'authfile-mode 600'), 'authfiles are 0600');
  for (const l of calls) {
    const m = /--(?:src-)?authfile (\S+)/.exec(l);
    if (m) t.notOk(existsSync(m[1]!), `authfile ${m[1]!} removed after use`);
  }
});
