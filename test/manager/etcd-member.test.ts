// manager/etcd/member.ts and membership.ts against the real etcd (Debian etcd-server): a supervised member with
// mutual TLS, only member certificates admitted, restarted after kill -9 with its data, a second member added and
// removed through the cluster API, stopped with the manager.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ClusterCA, issueWithNewKey } from '../../manager/pki/ca.js';
import { issueEtcdMemberCert } from '../../manager/pki/etcd-certs.js';
import { EtcdMember, defaultMemberUrls, etcdMemberPaths, memberHealthy, writeMemberTls } from '../../manager/etcd/member.js';
import { etcdClient } from '../../manager/etcd/client.js';
import { addMember, listMembers, removeMember } from '../../manager/etcd/membership.js';
import { localMember } from '../../manager/etcd/local-member.js';
import { FAST_RAFT, freePort } from '../helpers/etcd-cluster.js';
import { toolSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';

function captureLogger(lines: Record<string, unknown>[]): pino.Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return pino({ level: 'debug', base: { component: 'manager' } }, sink);
}

t.test('defaults sit beside 2377: 2379 for clients, 2380 for peers, on the advertise host', async (t) => {
  t.same(defaultMemberUrls('10.0.0.5'), { clientUrl: 'https://10.0.0.5:2379', peerUrl: 'https://10.0.0.5:2380' });
  t.same(defaultMemberUrls('fd00::5'), { clientUrl: 'https://[fd00::5]:2379', peerUrl: 'https://[fd00::5]:2380' });
});

t.test('a supervised member: mTLS, member certificates only, restarted after kill -9, add/remove, stop', toolSkip(['etcd']), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-etcd-member-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { ca } = await ClusterCA.create('membertestcluster');
  const lines: Record<string, unknown>[] = [];
  const log = captureLogger(lines);

  const stateA = join(dir, 'a');
  const tlsA = writeMemberTls(stateA, ca.certPem, await issueEtcdMemberCert(ca, 'nodea', ['127.0.0.1']));
  const a = { clientUrl: `https://127.0.0.1:${await freePort()}`, peerUrl: `https://127.0.0.1:${await freePort()}` };
  const memberA = new EtcdMember({
    name: 'nodea',
    dataDir: etcdMemberPaths(stateA).dataDir,
    tls: tlsA,
    ...a,
    initialCluster: [{ name: 'nodea', peerUrl: a.peerUrl }],
    clusterState: 'new',
    clusterToken: 'membertestcluster',
    log,
    extraArgs: FAST_RAFT,
  });
  t.teardown(() => memberA.stop());
  memberA.start();
  await memberA.waitHealthy(30_000);
  t.ok(lines.some((l) => l.component === 'manager' && typeof l.msg === 'string' && l.msg.startsWith('etcd: ') && typeof l.etcd === 'object'), "etcd's own lines come through as structured lines of ours");

  const client = etcdClient({ endpoints: [a.clientUrl], tls: tlsA });
  t.teardown(() => client.close());
  await client.put('k').value('v1');
  t.equal(await client.get('k').string(), 'v1', 'the manager reads and writes with its member certificate');

  // A node's certificate from the same CA (clientAuth, no SANs) is refused on the client port.
  const worker = await issueWithNewKey(ca, { role: 'worker', nodeId: 'someworker' });
  const workerTls = { caFile: tlsA.caFile, certFile: join(dir, 'worker.crt'), keyFile: join(dir, 'worker.key') };
  writeFileSync(workerTls.certFile, worker.certPem);
  writeFileSync(workerTls.keyFile, worker.keyPem);
  t.equal(await memberHealthy(a.clientUrl, workerTls), false, "a worker's certificate cannot use etcd");
  t.equal(await memberHealthy(a.clientUrl, tlsA), true, "the member's certificate can");

  // kill -9: the supervisor starts it again, with its data.
  const pid1 = memberA.pid;
  t.ok(pid1, 'running');
  process.kill(pid1!, 'SIGKILL');
  await waitFor('the member restarted', () => memberA.restarts === 1 && memberA.pid !== null && memberA.pid !== pid1, { timeoutMs: 30_000 });
  await memberA.waitHealthy(30_000);
  t.ok(lines.some((l) => l.msg === 'etcd member died: restarting' && l.signal === 'SIGKILL'), 'the death is logged with its signal');
  t.equal(await client.get('k').string(), 'v1', 'the data survived the kill');

  // A second member, added through the cluster API and started as "existing" (local-member.ts, as a joining
  // manager makes its own: the certificate issued on first use).
  const stateB = join(dir, 'b');
  const b = { clientUrl: `https://127.0.0.1:${await freePort()}`, peerUrl: `https://127.0.0.1:${await freePort()}` };
  const added = await addMember(client, 'nodeb', b.peerUrl);
  t.same(
    added.initialCluster.map((p) => p.name).sort(),
    ['nodea', 'nodeb'],
    'the initial cluster names both members',
  );
  const { member: memberB, tls: tlsB } = await localMember({
    stateDir: stateB,
    ca,
    nodeId: 'nodeb',
    clusterId: 'membertestcluster',
    advertiseHost: '127.0.0.1',
    ...b,
    clusterState: 'existing',
    initialCluster: added.initialCluster,
    log,
    extraArgs: FAST_RAFT,
  });
  const certB = new X509Certificate(readFileSync(tlsB.certFile));
  t.match(certB.subjectAltName ?? '', /DNS:runsecrets-etcd/, "the joiner's member certificate carries the etcd name");
  t.match(certB.subjectAltName ?? '', /IP Address:127\.0\.0\.1/, 'and its IP');
  t.teardown(() => memberB.stop());
  memberB.start();
  await memberB.waitHealthy(30_000);
  const clientB = etcdClient({ endpoints: [b.clientUrl], tls: tlsB });
  t.teardown(() => clientB.close());
  t.equal(await clientB.get('k').string(), 'v1', 'the added member has the data');
  t.same((await listMembers(client)).map((m) => m.name).sort(), ['nodea', 'nodeb'], 'two members');

  t.equal(await removeMember(client, 'nodeb'), true, 'removed');
  await memberB.stop();
  t.same((await listMembers(client)).map((m) => m.name), ['nodea'], 'one member again');
  t.equal(await removeMember(client, 'nodeb'), false, 'removing an absent member says so');
  await client.put('k').value('v2');
  t.equal(await client.get('k').string(), 'v2', 'the remaining member still takes writes');

  // stop(): the process ends and is not started again.
  const pid2 = memberA.pid!;
  await memberA.stop();
  t.equal(memberA.pid, null, 'no process');
  t.throws(() => process.kill(pid2, 0), 'the etcd process is gone');
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(memberA.pid, null, 'and it was not restarted');
});
