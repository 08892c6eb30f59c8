// The agent's side of node certificate renewal without a manager: when a renewal is due (Swarm's 50-80 % window),
// and the state dir's crash safety (a renewal stored whole is moved in at the next load; a partial one is dropped,
// the old pair kept). The renewal over a real session is test/e2e/node-certs.test.ts.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { ClusterCA, issueWithNewKey } from '../../manager/pki/ca.js';
import { RENEW_FROM, RENEW_TO, renewalDelayMs, trustFingerprints, pemCertificates } from '../../agent/session/cert-renewal.js';
import { loadIdentity, storeNodeCert } from '../../agent/session/join.js';

t.test('renewal is due between 50 % and 80 % of the validity, counted from NotBefore', async (t) => {
  const { ca } = await ClusterCA.create('cluster-x');
  const { certPem } = await issueWithNewKey(ca, { role: 'worker', nodeId: 'node-a', validityMs: 3600_000 });
  const c = new X509Certificate(certPem);
  const from = Date.parse(c.validFrom);
  const span = Date.parse(c.validTo) - from;
  t.equal(renewalDelayMs(certPem, from, 0), span * RENEW_FROM, 'the earliest point');
  t.equal(renewalDelayMs(certPem, from, 1), span * RENEW_TO, 'the latest point');
  t.equal(renewalDelayMs(certPem, from + span, 0.5), 0, 'past the window: at once');
  t.ok(span < 3600_000 * 1.11, 'a short certificate is back-dated by at most a tenth of its validity, so it is not due at once');
});

t.test('trusted roots: fingerprints in order, one per PEM certificate of the bundle', async (t) => {
  const a = (await ClusterCA.create('c1')).ca.certPem;
  const b = (await ClusterCA.create('c2')).ca.certPem;
  t.equal(pemCertificates(a + b).length, 2);
  const [fa, fb] = trustFingerprints(a + b);
  t.match(fa, /^[0-9a-f]{64}$/);
  t.not(fa, fb);
  t.same(trustFingerprints(b + a), [fb, fa]);
});

t.test('a renewal is stored so that a crash leaves one matching pair', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-certstore-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { ca } = await ClusterCA.create('cluster-y');
  const one = await issueWithNewKey(ca, { role: 'worker', nodeId: 'node-b', validityMs: 3600_000 });
  const two = await issueWithNewKey(ca, { role: 'worker', nodeId: 'node-b', validityMs: 3600_000 });
  writeFileSync(join(dir, 'node.key'), one.keyPem);
  writeFileSync(join(dir, 'node.crt'), one.certPem);
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);

  // Crash after the new key was written, before its certificate: the old pair stays, the orphan key goes.
  writeFileSync(join(dir, 'node.key.new'), two.keyPem);
  let id = loadIdentity(dir)!;
  t.same([id.keyPem, id.certPem], [one.keyPem, one.certPem], 'the old pair');
  t.notOk(existsSync(join(dir, 'node.key.new')), 'the orphan key removed');

  // Crash after both were written and the key moved in, before the certificate: the move is finished.
  writeFileSync(join(dir, 'node.key'), two.keyPem);
  writeFileSync(join(dir, 'node.crt.new'), two.certPem);
  id = loadIdentity(dir)!;
  t.same([id.keyPem, id.certPem], [two.keyPem, two.certPem], 'the new pair');
  t.ok(new X509Certificate(id.certPem).checkPrivateKey(createPrivateKey(id.keyPem)), 'which match');

  storeNodeCert(dir, one.keyPem, one.certPem);
  t.same([readFileSync(join(dir, 'node.key'), 'utf8'), readFileSync(join(dir, 'node.crt'), 'utf8')], [one.keyPem, one.certPem], 'a whole store');
  t.notOk(existsSync(join(dir, 'node.crt.new')) || existsSync(join(dir, 'node.key.new')), 'leaves no .new file');
});
