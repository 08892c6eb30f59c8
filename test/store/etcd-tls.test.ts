// The etcd Store over mutual TLS: with the CA and a client certificate from the cluster CA it works; without a
// client certificate etcd refuses it.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterCA, issueWithNewKey } from '../../manager/pki/ca.js';
import { EtcdStore } from '../../manager/store/etcd.js';
import { randomKey } from '../../shared/crypto.js';
import { newId } from '../../shared/ids.js';
import { etcdSkipReason, startEtcd } from '../helpers/etcd.js';

const skip = etcdSkipReason();
t.test('mutual TLS to etcd', skip ? { skip } : {}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-etcd-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { ca } = await ClusterCA.create(newId());
  const file = (name: string, pem: string): string => {
    const p = join(dir, name);
    writeFileSync(p, pem, { mode: 0o600 });
    return p;
  };
  const caFile = file('ca.pem', ca.certPem);
  const server = await issueWithNewKey(ca, { role: 'manager', nodeId: newId(), ipAddresses: ['127.0.0.1'] });
  const client = await issueWithNewKey(ca, { role: 'manager', nodeId: newId() });
  const member = await startEtcd(dir, [], { certFile: file('etcd.pem', server.certPem), keyFile: file('etcd-key.pem', server.keyPem), caFile });
  t.teardown(() => member.stop());
  t.match(member.endpoints[0], /^https:/);

  const dek = randomKey();
  const store = await EtcdStore.open({ endpoints: member.endpoints, dek, tls: { caFile, certFile: file('client.pem', client.certPem), keyFile: file('client-key.pem', client.keyPem) } });
  t.teardown(() => store.close());
  const s = await store.create('secret', { id: newId(), name: 'over-tls', spec: { Labels: null, Data: 'eA==' } });
  t.same(await store.get('secret', s.id), s, 'written and read over mutual TLS');

  const err = await EtcdStore.open({ endpoints: member.endpoints, dek, tls: { caFile } }).then(
    (s) => s.close().then(() => null),
    (e: unknown) => e as Error,
  );
  t.match(err?.message, /certificate/, 'no client certificate: the TLS handshake is refused');
});
