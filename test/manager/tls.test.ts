// Mutual TLS on the TCP listener: no certificate, another CA's certificate, TLS 1.2 and revoked certificates get no
// connection; a worker certificate gets 403 on the control API; admin certificates work.
import t from 'tap';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { isRoot, startManager } from '../helpers/manager.js';
import { OpenCluster } from '../../manager/cluster/state.js';
import { ClusterCA, issueWithNewKey } from '../../manager/pki/ca.js';
import { REVOKED_FILE } from '../../manager/pki/revocation.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const m = await startManager();
t.teardown(() => m.cleanup());
const caPem = readFileSync(join(m.adminCertDir, 'ca.pem'), 'utf8');
const admin = { cert: readFileSync(join(m.adminCertDir, 'cert.pem'), 'utf8'), key: readFileSync(join(m.adminCertDir, 'key.pem'), 'utf8') };

interface Result {
  status?: number;
  body?: string;
  error?: string;
}

function get(path: string, client: { cert?: string; key?: string }, extra: https.RequestOptions = {}): Promise<Result> {
  return new Promise((resolve) => {
    const req = https.request(
      { host: '127.0.0.1', port: m.tcpPort, path, method: 'GET', ca: caPem, ...client, agent: false, ...extra },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode, body }));
        res.on('error', (e) => resolve({ error: e.message }));
      },
    );
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}

t.test('admin certificate works over TCP', async (t) => {
  const r = await get('/v1.47/secrets', admin);
  t.equal(r.status, 200, r.error ?? r.body ?? '');
  t.equal(r.body?.trim(), '[]');
  const cert = new X509Certificate(admin.cert);
  t.match(cert.subject, /OU=runsecrets-admin/);
});

t.test('a backup is refused over TCP, even with an admin certificate (it carries the sealed keys)', async (t) => {
  const r = await get('/runsecrets/backup', admin, { method: 'POST' });
  t.equal(r.status, 403, r.error ?? r.body ?? '');
  t.match(r.body, "backups are taken over the manager's Unix socket only");
});

t.test('no client certificate: no connection', async (t) => {
  const r = await get('/_ping', {});
  t.ok(r.error, `refused: ${r.error ?? ''}`);
  t.notOk(r.status);
});

t.test("another CA's certificate: no connection", async (t) => {
  const { ca: other } = await ClusterCA.create('othercluster0000000000000');
  const foreign = await issueWithNewKey(other, { role: 'admin', nodeId: 'intruder' });
  const r = await get('/_ping', { cert: foreign.certPem, key: foreign.keyPem });
  t.ok(r.error, `refused: ${r.error ?? ''}`);
});

t.test('TLS 1.2 is refused', async (t) => {
  const r = await get('/_ping', admin, { maxVersion: 'TLSv1.2' });
  t.ok(r.error, `refused: ${r.error ?? ''}`);
});

t.test('a worker certificate gets 403 on the control API', async (t) => {
  const cluster = await OpenCluster.open(m.stateDir);
  const worker = await issueWithNewKey(cluster.ca, { role: 'worker', nodeId: 'worker1' });
  const ping = await get('/_ping', { cert: worker.certPem, key: worker.keyPem });
  t.equal(ping.status, 200, 'ping is open to every cluster certificate');
  for (const path of ['/secrets', '/v1.47/configs', '/swarm', '/secrets/x']) {
    const r = await get(path, { cert: worker.certPem, key: worker.keyPem });
    t.equal(r.status, 403, path);
    t.match(JSON.parse(r.body ?? '{}'), { message: /permission denied: a worker certificate/ });
  }
  // A manager certificate of another node ID (as the manager join token minted before such joins were refused).
  const mgr = await issueWithNewKey(cluster.ca, { role: 'manager', nodeId: 'manager2' });
  for (const path of ['/secrets', '/swarm', '/swarm/unlockkey']) {
    const r = await get(path, { cert: mgr.certPem, key: mgr.keyPem });
    t.equal(r.status, 403, `another manager certificate: ${path}`);
    t.match(JSON.parse(r.body ?? '{}'), { message: /permission denied: a manager certificate of another node \(manager2\)/ });
  }
});

t.test('a revoked certificate gets no connection', async (t) => {
  const serial = new X509Certificate(admin.cert).serialNumber;
  writeFileSync(join(m.stateDir, REVOKED_FILE), JSON.stringify([serial]), { mode: 0o600 });
  await m.restart();
  const r = await get('/_ping', admin);
  t.ok(r.error, `refused: ${r.error ?? ''}`);
});
