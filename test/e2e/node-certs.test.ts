// Node certificates after the join (issue 12 item 4): a real agent renews its certificate over its session before it
// expires (a short test-only expiry), keeping its task and its session; the renewed certificate is what the next
// connection uses. The manager issues only for the node a session is authenticated as: a CSR naming another node,
// the manager role or another cluster is refused. `docker swarm ca --rotate` with 2 agents running tasks moves every
// node to the new root with no task disturbed, then refuses old-root certificates.
import t from 'tap';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import https from 'node:https';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fuseSkipReason, toolSkipReason } from '../helpers/env.js';
import { dockerCli } from '../helpers/docker-cli.js';
import { startManager, request, waitFor } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { createSecret, createService, runningTask, serviceSpec } from '../helpers/cluster-ops.js';
import { createLogger } from '../../shared/log.js';
import { SIGN_ALG, createCsrPem, generateKeyPair, identityOfCert, privateKeyPem, x509 } from '../../shared/pki.js';
import { ClusterCA } from '../../manager/pki/ca.js';
import type { CertManagerMessage } from '../../shared/protocol.js';
import { joinCluster } from '../../agent/session/join.js';
import { ManagerSession } from '../../agent/session/session.js';

const READER = join(import.meta.dirname, '../fixtures/cert-reader.mjs');

interface ReaderState {
  id: number;
  reads: number;
  failed: number;
  lastFailure: string | null;
}

function readerState(out: string, label: string): ReaderState | null {
  try {
    return JSON.parse(readFileSync(join(out, `${label}.json`), 'utf8')) as ReaderState;
  } catch {
    return null;
  }
}

/** A request over TLS with a given client certificate (the server's is not checked: what is tested is whether the
 * manager accepts ours). Resolves to the status, or to the error when the manager drops the connection. */
function tlsRequest(port: number, path: string, cert: string, key: string, headers: Record<string, string> = {}): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port, path, method: 'GET', cert, key, rejectUnauthorized: false, agent: false, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err) => resolve(err.message));
    req.end();
  });
}

const UPGRADE = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };

async function csrWithSubject(name: string): Promise<string> {
  const keys = await generateKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm: SIGN_ALG });
  return csr.toString('pem') + '\n';
}

const skip = fuseSkipReason();
if (skip) {
  t.comment(`SKIP node certificates: ${skip}`);
  t.test('the whole file', { skip }, () => undefined);
} else {
  t.test('an agent renews its certificate before expiry, keeping its session and its task', async (t) => {
    // 20 s certificates (the API keeps Docker's 1 h minimum; this override is for tests): renewal at 10-16 s.
    const m = await startManager({ t, env: { RUNSECRETS_NODE_CERT_EXPIRY_MS: '20000', RUNSECRETS_HEARTBEAT_MS: '300' } });
    const out = mkdtempSync(join(tmpdir(), 'rs-certs-out-'));
    chmodSync(out, 0o777);
    const a = managedAgent({ managerPort: m.tcpPort, hostname: `certs-renew-${process.pid}` });
    t.teardown(async () => {
      await a.cleanup();
      rmSync(out, { recursive: true, force: true });
    });
    await a.start(m.workerToken);
    const first = new X509Certificate(readFileSync(join(a.stateDir, 'node.crt')));
    const nodeId = identityOfCert(first.toString()).nodeId;
    const sid = await createSecret(m, 'renew-s', Buffer.from('RENEW'));
    await createService(m, serviceSpec('renew-svc', a.hostname, [{ id: sid, name: 'renew-s' }], { command: [process.execPath, READER, out, 'r', 'renew-s', 'RENEW'] }));
    const task = await runningTask(m, 'renew-svc', 90_000);
    const before = await waitFor(async () => readerState(out, 'r'), 'the task reading its secret', 30_000);

    // Two renewals: the second is for a certificate the first renewal issued, so the original one has expired.
    await a.waitLog((l) => l.msg === 'node certificate renewed: used from the next connection', 0, 60_000);
    const afterFirst = a.logs().findIndex((l) => l.msg === 'node certificate renewed: used from the next connection');
    await a.waitLog((l) => l.msg === 'node certificate renewed: used from the next connection', afterFirst + 1, 60_000);
    await waitFor(async () => (Date.parse(first.validTo) < Date.now() ? true : undefined), 'the first certificate to expire', 30_000);

    const now = new X509Certificate(readFileSync(join(a.stateDir, 'node.crt')));
    t.not(now.serialNumber, first.serialNumber, 'the state dir holds a renewed certificate');
    t.equal(identityOfCert(now.toString()).nodeId, nodeId, 'for the same node');
    t.ok(now.checkPrivateKey(createPrivateKey(readFileSync(join(a.stateDir, 'node.key')))), 'with its key beside it');
    t.ok(now.verify(new X509Certificate(readFileSync(join(a.stateDir, 'ca.crt'))).publicKey), 'issued by the cluster CA');
    t.notOk(existsSync(join(a.stateDir, 'node.crt.new')) || existsSync(join(a.stateDir, 'node.key.new')), 'no half-stored renewal left');
    t.equal(a.logs().filter((l) => l.msg === 'connected to the manager').length, 1, 'the session was never re-opened');
    const node = (await request(m.socket, 'GET', `/nodes/${nodeId}`)).json as { Status: { State: string } };
    t.equal(node.Status.State, 'ready', 'the node stays ready');
    const tasks = (await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['renew-svc'] }))}`)).json as { ID: string; Status: { State: string } }[];
    t.same(tasks.map((x) => [x.ID, x.Status.State]), [[task.ID, 'running']], 'the same task, still running');
    const after = await waitFor(async () => {
      const s = readerState(out, 'r');
      return s && s.reads > before.reads ? s : undefined;
    }, 'more reads', 20_000);
    t.equal(after.id, before.id, 'the same task process');
    t.equal(after.failed, 0, `every read returned the secret (${after.lastFailure ?? ''})`);

    // The next connection uses the renewed certificate (the first one has expired: the manager would refuse it).
    await a.stop();
    const from = a.logs().length;
    await a.start();
    t.ok(a.logs().slice(from).some((l) => l.msg === 'connected to the manager'), 'a restarted agent connects with the renewed certificate');
  });

  t.test('a session renews only its own identity: another node, the manager role or another cluster is refused', async (t) => {
    const m = await startManager({ t });
    const dir = mkdtempSync(join(tmpdir(), 'rs-certs-attack-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const log = createLogger('test-agent', 'silent');
    const manager = { host: '127.0.0.1', port: m.tcpPort };
    const victim = await joinCluster({ manager, token: m.workerToken, stateDir: join(dir, 'victim'), hostname: 'victim', labels: {}, log });
    const me = await joinCluster({ manager, token: m.workerToken, stateDir: join(dir, 'me'), hostname: 'attacker', labels: {}, log });
    const answers: CertManagerMessage[] = [];
    let connected = false;
    const session = new ManagerSession({
      manager,
      identity: me,
      log,
      onAssign: async () => undefined,
      onConnected: () => (connected = true),
      onCert: (msg) => answers.push(msg),
    });
    session.start();
    t.teardown(() => session.stop());
    await waitFor(async () => (connected ? true : undefined), 'the session');
    const clusterId = identityOfCert(me.certPem).clusterId;
    const ask = async (csr: string): Promise<CertManagerMessage> => {
      const n = answers.length;
      t.ok(session.send({ type: 'cert-request', csr }), 'request sent');
      return waitFor(async () => answers[n], 'an answer');
    };

    const other = await ask(await csrWithSubject(`CN=${victim.nodeId}`));
    t.equal(other.type, 'node-cert-refused', "another node's identity is refused");
    t.match(other.type === 'node-cert-refused' ? other.reason : '', /renews only its own certificate/);
    const mgr = await ask(await csrWithSubject(`CN=${me.nodeId}, OU=swarm-manager, O=${clusterId}`));
    t.equal(mgr.type, 'node-cert-refused', 'the manager role is refused');
    t.match(mgr.type === 'node-cert-refused' ? mgr.reason : '', /renews only as a worker/);
    const elsewhere = await ask(await csrWithSubject(`CN=${me.nodeId}, OU=swarm-worker, O=another-cluster`));
    t.equal(elsewhere.type, 'node-cert-refused', 'another cluster is refused');
    const garbage = await ask('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n');
    t.equal(garbage.type, 'node-cert-refused', 'a malformed CSR is refused');

    const ok = await ask(await createCsrPem(await generateKeyPair(), me.nodeId));
    t.equal(ok.type, 'node-cert', 'its own renewal is answered');
    if (ok.type === 'node-cert') {
      const id = identityOfCert(ok.cert);
      t.same([id.nodeId, id.role, id.clusterId], [me.nodeId, 'worker', clusterId], 'for its own node, as a worker, in this cluster');
      t.ok(new X509Certificate(ok.cert).verify(new X509Certificate(me.caPem).publicKey), 'issued by the cluster CA');
      const nodes = (await request(m.socket, 'GET', `/nodes/${me.nodeId}`)).json as { ID: string };
      t.equal(nodes.ID, me.nodeId);
    }
    // The hostname a joiner puts in its CSR is not its node ID: at renewal that is another identity too.
    const bare = await ask(await csrWithSubject('CN=whatever-the-host-is'));
    t.equal(bare.type, 'node-cert-refused', 'a CN other than the node ID is refused, whatever it is');
  });
}

const rotateSkip = fuseSkipReason() || toolSkipReason(['docker']);
t.test('docker swarm ca --rotate with 2 agents running tasks: all on the new root, no task disturbed, the old root refused', { skip: rotateSkip }, async (t) => {
  const m = await startManager({ t, env: { RUNSECRETS_HEARTBEAT_MS: '300' } });
  const out = mkdtempSync(join(tmpdir(), 'rs-rotate-out-'));
  chmodSync(out, 0o777);
  const cli = dockerCli();
  const agents = [0, 1].map((i) => managedAgent({ managerPort: m.tcpPort, hostname: `rotate-${i}-${process.pid}` }));
  t.teardown(async () => {
    for (const a of agents) await a.cleanup();
    cli.cleanup();
    rmSync(out, { recursive: true, force: true });
  });
  for (const a of agents) await a.start(m.workerToken);
  const swarm = async () => (await request(m.socket, 'GET', '/swarm')).json as { TLSInfo: { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string }; RootRotationInProgress: boolean; JoinTokens: { Worker: string } };
  const before = await swarm();
  const oldNode = { cert: readFileSync(join(agents[0]!.stateDir, 'node.crt'), 'utf8'), key: readFileSync(join(agents[0]!.stateDir, 'node.key'), 'utf8') };
  const oldAdmin = { cert: readFileSync(join(m.adminCertDir, 'cert.pem'), 'utf8'), key: readFileSync(join(m.adminCertDir, 'key.pem'), 'utf8') };
  t.equal(await tlsRequest(m.tcpPort, '/swarm', oldAdmin.cert, oldAdmin.key), 200, 'before: the admin certificate works');

  const tasks: string[] = [];
  const readers: number[] = [];
  for (const [i, a] of agents.entries()) {
    const sid = await createSecret(m, `rot-s${i}`, Buffer.from(`ROT${i}`));
    await createService(m, serviceSpec(`rot-svc${i}`, a.hostname, [{ id: sid, name: `rot-s${i}` }], { command: [process.execPath, READER, out, `r${i}`, `rot-s${i}`, `ROT${i}`] }));
    tasks.push((await runningTask(m, `rot-svc${i}`, 90_000)).ID); // generous: the test machines are shared
    readers.push((await waitFor(async () => readerState(out, `r${i}`), `task ${i} reading`, 30_000)).id);
  }

  const r = await cli.run(m.dockerHost, ['swarm', 'ca', '--rotate'], undefined, 120_000);
  t.equal(r.code, 0, r.stderr);
  const after = await swarm();
  t.not(after.TLSInfo.TrustRoot, before.TLSInfo.TrustRoot, 'a new root');
  t.equal(after.RootRotationInProgress, false, 'the rotation is over');
  t.ok(r.stdout.endsWith(after.TLSInfo.TrustRoot.trim() + '\n'), "docker's progress ends with the new root");
  t.match(r.stdout, /desired root digest: sha256:[0-9a-f]{64}/, "docker's progress lines");
  t.not(after.JoinTokens.Worker, before.JoinTokens.Worker, 'the join tokens changed with the root digest');

  const nodes = (await request(m.socket, 'GET', '/nodes')).json as { ID: string; Description: { TLSInfo: Record<string, string> } }[];
  t.equal(nodes.length, 3, 'the manager and 2 workers');
  for (const n of nodes) t.same(n.Description.TLSInfo, after.TLSInfo, `node ${n.ID} reports the new issuer and root`);
  const newRoot = new X509Certificate(after.TLSInfo.TrustRoot);
  for (const [i, a] of agents.entries()) {
    const crt = new X509Certificate(readFileSync(join(a.stateDir, 'node.crt')));
    t.ok(crt.verify(newRoot.publicKey), `agent ${i} holds a certificate under the new root`);
    t.equal(readFileSync(join(a.stateDir, 'ca.crt'), 'utf8'), after.TLSInfo.TrustRoot, `agent ${i} trusts the new root only`);
    t.equal(a.logs().filter((l) => l.msg === 'connected to the manager').length, 1, `agent ${i} kept its session`);
    const ts = (await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [`rot-svc${i}`] }))}`)).json as { ID: string; Status: { State: string } }[];
    t.same(ts.map((x) => [x.ID, x.Status.State]), [[tasks[i], 'running']], `task ${i}: the same task, running`);
    const st = await waitFor(async () => readerState(out, `r${i}`), `task ${i} state`);
    t.equal(st.id, readers[i], `task ${i}: the same process`);
    t.equal(st.failed, 0, `task ${i}: every read returned its secret (${st.lastFailure ?? ''})`);
  }

  // The attack: certificates of the old root are refused now, a node's (its session) and an admin's (the API).
  const session = await tlsRequest(m.tcpPort, '/runsecrets/session', oldNode.cert, oldNode.key, UPGRADE);
  t.equal(session, 401, 'a session with an old-root node certificate is refused');
  t.not(await tlsRequest(m.tcpPort, '/swarm', oldAdmin.cert, oldAdmin.key), 200, 'an old-root admin certificate is refused');
  const dir = mkdtempSync(join(tmpdir(), 'rs-rotate-admin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const issued = await m.cli(['manager', 'cert', 'admin', '--out', join(dir, 'a'), '--socket', m.socket]);
  t.equal(issued.code, 0, issued.stderr);
  t.equal(await tlsRequest(m.tcpPort, '/swarm', readFileSync(join(dir, 'a', 'cert.pem'), 'utf8'), readFileSync(join(dir, 'a', 'key.pem'), 'utf8')), 200, 'a new admin certificate (new root) is accepted');

  // The next connection: an agent restarted trusts the new root only and presents its new certificate.
  const a0 = agents[0]!;
  await a0.stop();
  const from = a0.logs().length;
  await a0.start();
  t.ok(a0.logs().slice(from).some((l) => l.msg === 'connected to the manager'), 'a restarted agent connects under the new root');

  // runsecrets' own command: the same flow and words, a second rotation.
  const shown = await m.cli(['manager', 'ca', '--socket', m.socket]);
  t.equal(shown.stdout, after.TLSInfo.TrustRoot.trim() + '\n', 'manager ca prints the trusted root');
  const ours = await m.cli(['manager', 'ca', '--rotate', '--socket', m.socket]);
  t.equal(ours.code, 0, ours.stderr);
  const third = await swarm();
  t.not(third.TLSInfo.TrustRoot, after.TLSInfo.TrustRoot, 'another new root');
  t.ok(ours.stdout.endsWith(third.TLSInfo.TrustRoot.trim() + '\n'), 'printed at the end');
  t.match(ours.stdout, /^desired root digest: sha256:[0-9a-f]{64}\n {2}rotated TLS certificates: \d\/3 nodes\n {2}rotated CA certificates: {2}\d\/3 nodes\n/, "docker's progress words");
  t.match(ours.stdout, / {2}rotated CA certificates: {2}3\/3 nodes\n-----BEGIN CERTIFICATE-----/, 'ending with every node rotated');
  const st1 = await waitFor(async () => readerState(out, 'r1'), 'task 1 state');
  t.same([st1.id, st1.failed], [readers[1], 0], 'task 1: the same process, every read returned its secret');
});

t.test('docker swarm ca --rotate --ca-cert --ca-key: a given root, checked as swarmkit checks it', { skip: rotateSkip }, async (t) => {
  const m = await startManager({ t });
  const cli = dockerCli();
  const dir = mkdtempSync(join(tmpdir(), 'rs-given-ca-'));
  t.teardown(() => {
    cli.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const good = await ClusterCA.create('given');
  const other = await ClusterCA.create('other');
  const keys = await generateKeyPair();
  const short = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=short-lived',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 30 * 86400_000),
    signingAlgorithm: SIGN_ALG,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  const rotate = (cert: string, key: string) => cli.run(m.dockerHost, ['swarm', 'ca', '--rotate', '--ca-cert', cert, '--ca-key', key], undefined, 120_000);

  const mismatch = await rotate(write('good.crt', good.ca.certPem), write('other.key', other.keyPem));
  t.equal(mismatch.code, 1);
  t.match(mismatch.stderr, /the CA key does not match the CA certificate/);
  const soon = await rotate(write('short.crt', short.toString('pem') + '\n'), write('short.key', await privateKeyPem(keys.privateKey)));
  t.equal(soon.code, 1);
  t.match(soon.stderr, /CA certificate expires too soon/, "swarmkit's text");
  const before = (await request(m.socket, 'GET', '/swarm')).json as { TLSInfo: { TrustRoot: string } };
  // The key as openssl ecparam writes it (SEC1), which is what operators have.
  const sec1 = createPrivateKey(good.keyPem).export({ type: 'sec1', format: 'pem' }).toString();
  const ok = await rotate(join(dir, 'good.crt'), write('good.key', sec1));
  t.equal(ok.code, 0, ok.stderr);
  const after = (await request(m.socket, 'GET', '/swarm')).json as { TLSInfo: { TrustRoot: string }; RootRotationInProgress: boolean; Spec: { CAConfig: Record<string, unknown> } };
  t.not(after.TLSInfo.TrustRoot, before.TLSInfo.TrustRoot);
  t.equal(after.TLSInfo.TrustRoot, good.ca.certPem, 'the given root is the root');
  t.equal(after.RootRotationInProgress, false, 'done: no node to wait for');
  t.notOk('SigningCAKey' in after.Spec.CAConfig || 'SigningCACert' in after.Spec.CAConfig, 'never shown');
  t.ok(ok.stdout.endsWith(good.ca.certPem.trim() + '\n'), 'docker prints it');
  const issued = await m.cli(['manager', 'cert', 'admin', '--out', join(dir, 'admin'), '--socket', m.socket]);
  t.equal(issued.code, 0, issued.stderr);
  t.ok(new X509Certificate(readFileSync(join(dir, 'admin', 'cert.pem'))).verify(new X509Certificate(good.ca.certPem).publicKey), 'certificates are issued under it');
});
