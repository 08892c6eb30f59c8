// What etcd keeps on disk for the etcd Store: its WAL, its snapshot and its key-value database must show no
// secret's, config's or service's name and no value, in any encoding we write them in.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { EtcdStore } from '../../manager/store/etcd.js';
import { randomKey } from '../../shared/crypto.js';
import { newId } from '../../shared/ids.js';
import { etcdSkipReason, startEtcd } from '../helpers/etcd.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

const skip = etcdSkipReason();
t.test('no name or value readable in etcd data dir, WAL or snapshot', skip ? { skip } : {}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-etcd-rest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A low snapshot count, so that etcd writes a snapshot within this test.
  const member = await startEtcd(dir, ['--snapshot-count', '20']);
  t.teardown(() => member.stop());
  const store = await EtcdStore.open({ endpoints: member.endpoints, dek: randomKey() });
  const tag = randomBytes(6).toString('hex');
  const secretName = `NameMarker${tag}`;
  const value = Buffer.from(`ValueMarker${tag}`);
  const configName = `CfgNameMarker${tag}`;
  const serviceName = `svcnamemarker${tag}`;
  const s = await store.create('secret', { id: newId(), name: secretName, spec: { Labels: { l: `LabelMarker${tag}` }, Data: value.toString('base64') } });
  await store.create('config', { id: newId(), name: configName, spec: { Labels: null, Data: value.toString('base64') } });
  const svc = await store.create('service', {
    id: newId(),
    name: serviceName,
    spec: { Spec: { Name: serviceName, TaskTemplate: { ContainerSpec: { Image: 'busybox', Secrets: [{ SecretID: s.id, SecretName: secretName }] } } } },
  });
  let cur = svc;
  for (let i = 0; i < 60; i++) cur = await store.update('service', svc.id, cur.version, cur.spec);
  await store.close();
  await member.stop(); // every file complete and still

  const files = filesUnder(member.dataDir);
  const rel = files.map((f) => relative(member.dataDir, f));
  t.ok(rel.some((f) => /^member\/wal\/.*\.wal$/.test(f)), 'a WAL file');
  t.ok(rel.some((f) => /^member\/snap\/.*\.snap$/.test(f)), `a snapshot was taken (files: ${rel.join(', ')})`);
  t.ok(rel.includes('member/snap/db'), 'the key-value database');
  const all = files.map((f) => ({ f: relative(member.dataDir, f), b: statSync(f).size > 0 ? readFileSync(f) : Buffer.alloc(0) }));
  // The files are readable as they are: the object keys (IDs only) are found, in the WAL and in the database.
  const idKey = Buffer.from(`o/secret/${s.id}`);
  t.ok(all.some(({ f, b }) => f.startsWith('member/wal/') && b.includes(idKey)), 'control: the secret key is in the WAL');
  t.ok(all.some(({ f, b }) => f === 'member/snap/db' && b.includes(idKey)), 'control: the secret key is in the database');
  const markers = [secretName, secretName.toLowerCase(), configName, serviceName, `LabelMarker${tag}`, value.toString(), value.toString('base64'), value.toString('hex')];
  for (const m of markers) {
    const hits = all.filter(({ b }) => b.includes(Buffer.from(m))).map(({ f }) => f);
    t.same(hits, [], `${m.slice(0, 14)}… in no file`);
  }
});
