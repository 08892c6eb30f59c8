// Unit tests: envelope crypto, IDs, timestamps, join tokens, unlock keys, CA issuance from CSRs.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { open, seal, randomKey, deriveKey, DecryptError } from '../../shared/crypto.js';
import { newId, isId } from '../../shared/ids.js';
import { formatRfc3339Nano, parseRfc3339Nano } from '../../shared/time.js';
import { caDigestBase36, createCsrPem, generateKeyPair, identityOfCert } from '../../shared/pki.js';
import { ClusterCA } from '../../manager/pki/ca.js';
import { formatToken, parseToken, tokenSecret, tokenState, verifyToken } from '../../manager/pki/tokens.js';
import { formatUnlockKey, parseUnlockKey } from '../../manager/cluster/state.js';

t.test('seal/open round trip; wrong key, wrong AAD or damage are refused', async (t) => {
  const k = randomKey();
  const s = seal(k, Buffer.from('hello'), Buffer.from('aad'));
  t.equal(open(k, s, Buffer.from('aad')).toString(), 'hello');
  t.throws(() => open(randomKey(), s, Buffer.from('aad')), DecryptError);
  t.throws(() => open(k, s, Buffer.from('other')), DecryptError);
  const bad = Buffer.from(s);
  bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
  t.throws(() => open(k, bad, Buffer.from('aad')), DecryptError);
  t.not(seal(k, Buffer.from('x')).toString('hex'), seal(k, Buffer.from('x')).toString('hex'), 'random nonces');
  t.not(deriveKey(k, 'a').toString('hex'), deriveKey(k, 'b').toString('hex'));
});

t.test('IDs are 25 characters of [0-9a-z]', async (t) => {
  const ids = new Set(Array.from({ length: 2000 }, newId));
  t.equal(ids.size, 2000);
  for (const id of ids) if (!isId(id)) t.fail(`bad id ${id}`);
  t.pass();
});

t.test('RFC 3339 nano like Go: trailing zeros dropped', async (t) => {
  t.equal(formatRfc3339Nano(1490343309735271783n), '2017-03-24T08:15:09.735271783Z');
  t.equal(formatRfc3339Nano(1490343309700000000n), '2017-03-24T08:15:09.7Z');
  t.equal(formatRfc3339Nano(1490343309000000000n), '2017-03-24T08:15:09Z');
  t.equal(parseRfc3339Nano('2017-03-24T08:15:09.735271783Z'), 1490343309735271783n);
  t.equal(parseRfc3339Nano('nope'), null);
});

t.test('join tokens: format, verification by hash, rotation', async (t) => {
  const key = randomKey();
  const digest = 'a'.repeat(50);
  const states = { worker: tokenState(key, 'worker', 1), manager: tokenState(key, 'manager', 1) };
  const w = formatToken(digest, tokenSecret(key, 'worker', 1));
  t.match(w, /^RSTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
  t.equal(verifyToken(w, digest, states), 'worker');
  t.equal(verifyToken(formatToken(digest, tokenSecret(key, 'manager', 1)), digest, states), 'manager');
  t.equal(verifyToken(w, 'b'.repeat(50), states), null, 'another CA digest');
  t.equal(verifyToken('RSTKN-1-garbage', digest, states), null);
  const rotated = { ...states, worker: tokenState(key, 'worker', 2) };
  t.equal(verifyToken(w, digest, rotated), null, 'the old worker token stops working');
  t.notOk(JSON.stringify(states).includes(tokenSecret(key, 'worker', 1)), 'states hold no secret');
  t.same(parseToken(` ${w}\n`)?.caDigest, digest);
});

t.test('unlock keys', async (t) => {
  const raw = randomKey();
  const k = formatUnlockKey(raw);
  t.match(k, /^RSKEY-1-[A-Za-z0-9+/]{43}$/);
  t.same(parseUnlockKey(`${k}\n`), raw);
  t.equal(parseUnlockKey('SWMKEY-1-abc'), null);
  t.equal(parseUnlockKey(k.slice(0, -1)), null);
});

t.test('CA: signs CSRs with role in OU, node ID in CN, cluster in O; refuses bad CSRs', async (t) => {
  const { ca } = await ClusterCA.create('clusterid0000000000000000');
  const keys = await generateKeyPair();
  const csr = await createCsrPem(keys, 'i-want-to-be-admin');
  const pem = await ca.signCsr(csr, { role: 'worker', nodeId: 'node1' });
  const id = identityOfCert(pem);
  t.equal(id.role, 'worker');
  t.equal(id.nodeId, 'node1', 'the subject is the CA’s choice, not the CSR’s');
  t.equal(id.clusterId, 'clusterid0000000000000000');
  const cert = new X509Certificate(pem);
  t.ok(cert.verify(new X509Certificate(ca.certPem).publicKey), 'signed by the CA');
  t.ok(cert.checkIssued(new X509Certificate(ca.certPem)));
  await t.rejects(ca.signCsr('not a csr', { role: 'worker', nodeId: 'x' }), { name: 'CsrError' });
  const der = Buffer.from(csr.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  der[40] = (der[40] ?? 0) ^ 0x01; // inside the signed part: the self-signature no longer matches
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await t.rejects(ca.signCsr(tampered, { role: 'worker', nodeId: 'x' }), { name: 'CsrError' });
  // A signature that does not even parse (its ECDSA-Sig-Value SEQUENCE tag changed): verify() throws instead of
  // answering false; found by the API fuzzer as a 500 on /runsecrets/join.
  const badSig = Buffer.from(csr.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  let at = -1;
  for (let i = badSig.length - 4; i > 0 && at < 0; i--) if (badSig[i] === 0x03 && badSig[i + 2] === 0x00 && badSig[i + 3] === 0x30) at = i + 3;
  t.ok(at > 0, 'found the signature BIT STRING');
  badSig[at] = 0x31;
  const garbled = `-----BEGIN CERTIFICATE REQUEST-----\n${badSig.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await t.rejects(ca.signCsr(garbled, { role: 'worker', nodeId: 'x' }), { name: 'CsrError' });
  t.match(caDigestBase36(ca.certPem), /^[0-9a-z]{50}$/);
  const loaded = await ClusterCA.load(ca.certPem, (await ClusterCA.create('x')).keyPem);
  t.equal(loaded.clusterId, 'clusterid0000000000000000');
});
