// The manager's state dir through a root CA rotation (manager/cluster/state.ts): the new root kept beside the old
// one across a restart, a completion interrupted by a crash finished at the next open, and a rotation whose files
// are gone (a backup taken mid-rotation) dropped. The rotation with agents is test/e2e/node-certs.test.ts.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { X509Certificate } from 'node:crypto';
import { FILES, OpenCluster, initCluster } from '../../manager/cluster/state.js';
import { issueWithNewKey } from '../../manager/pki/ca.js';
import { caDigestBase36 } from '../../shared/pki.js';

async function fresh(t: Test): Promise<{ dir: string; c: OpenCluster }> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-rotstate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  await initCluster(stateDir, { autolock: false, advertiseAddr: '127.0.0.1:2377' });
  return { dir: stateDir, c: await OpenCluster.open(stateDir) };
}

/** The CA signs with the key that matches its certificate. */
async function signsAsItsCert(c: OpenCluster): Promise<boolean> {
  const leaf = await issueWithNewKey(c.ca, { role: 'worker', nodeId: 'probe', validityMs: 60_000 });
  return new X509Certificate(leaf.certPem).verify(new X509Certificate(c.ca.certPem).publicKey);
}

t.test('a rotation in progress survives a restart: both roots trusted, certificates from the new one', async (t) => {
  const { dir, c } = await fresh(t);
  const old = c.ca.certPem;
  await c.startRootRotation();
  const again = await OpenCluster.open(dir);
  t.ok(again.config.rootRotation, 'still in progress');
  t.equal(again.ca.certPem, old, 'the trusted root is still the old one');
  t.not(again.signingCa.certPem, old, 'certificates come from the new root');
  t.equal(again.trustBundle, old + again.signingCa.certPem, 'both roots are trusted');
  t.equal(again.config.caDigest, caDigestBase36(old), 'join tokens unchanged until completion');
});

t.test('a completion interrupted by a crash is finished at the next open', async (t) => {
  const { dir, c } = await fresh(t);
  await c.startRootRotation();
  const next = c.signingCa.certPem;
  // The crash: completing recorded, the CA key moved in, nothing else.
  c.save({ ...c.config, rootRotation: { startedAt: c.config.rootRotation!.startedAt, completing: true } });
  renameSync(join(dir, FILES.nextCaKey), join(dir, FILES.caKey));
  const opened = await OpenCluster.open(dir);
  t.equal(opened.ca.certPem, next, 'the new root is the root');
  t.ok(await signsAsItsCert(opened), 'with its own key');
  t.ok(new X509Certificate(opened.serverCertPem).verify(new X509Certificate(next).publicKey), "the manager's certificate is under it");
  t.equal(opened.config.rootRotation, undefined, 'the rotation is over');
  t.equal(opened.config.caDigest, caDigestBase36(next), 'join tokens carry the new digest');
  for (const f of [FILES.nextCaCert, FILES.nextCaKey, FILES.nextManagerCert, FILES.nextManagerKey]) t.notOk(existsSync(join(dir, f)), `${f} moved in`);
});

t.test('a completed rotation: the old root is gone, and a rotation without its files is dropped', async (t) => {
  const { dir, c } = await fresh(t);
  const old = c.ca.certPem;
  await c.startRootRotation();
  c.completeRootRotation();
  t.not(c.ca.certPem, old);
  t.equal(c.trustBundle, c.ca.certPem, 'only the new root is trusted');
  t.ok(await signsAsItsCert(c));
  const root = c.ca.certPem;

  await c.startRootRotation();
  for (const f of [FILES.nextCaCert, FILES.nextCaKey, FILES.nextManagerCert, FILES.nextManagerKey]) rmSync(join(dir, f));
  const opened = await OpenCluster.open(dir);
  t.equal(opened.config.rootRotation, undefined, 'dropped');
  t.equal(opened.ca.certPem, root, 'the root kept');
  t.equal(opened.next, null);
});
