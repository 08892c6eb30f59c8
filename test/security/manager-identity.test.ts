// Issue 9, finding 6: the manager join token minted a manager certificate (OU swarm-manager) for a node stored as a
// worker, and agents accepted any server whose certificate had that OU. Attacks: (1) join with the manager token;
// (2) serve TLS with a second swarm-manager certificate of the same CA (minted here with the CA key from the
// manager's state dir, as an attacker holding such a certificate would have it) and point an agent at it. Now the
// join is refused, the agent accepts only the manager whose node ID it pinned at join (state dir manager.id), and
// the manager's API takes no manager certificate but its own.
import t from 'tap';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import pino from 'pino';
import { WebSocketServer } from 'ws';
import { startManager, request, waitFor } from '../helpers/manager.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { encodeFrame } from '../../shared/protocol.js';
import { newId } from '../../shared/ids.js';
import { joinCluster, loadIdentity, pinManagerId } from '../../agent/session/join.js';
import { ManagerSession } from '../../agent/session/session.js';
import { OpenCluster } from '../../manager/cluster/state.js';
import { issueWithNewKey } from '../../manager/pki/ca.js';

const quiet = createLogger('test', 'silent');

/** A logger whose JSON lines the test can read. */
function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log: Logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }) as unknown as Logger;
  return { log, lines };
}

if (process.getuid?.() !== 0) {
  t.test('the whole file', { skip: 'needs root (the manager state dir is root-only)' }, () => undefined);
} else {
  t.test('the manager join token cannot join', async (t) => {
    const m = await startManager({ t });
    const work = mkdtempSync(join(tmpdir(), 'rs-mgrtok-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const q = await m.cli(['manager', 'join-token', 'manager', '-q', '--socket', m.socket]);
    const managerToken = q.stdout.trim();
    t.match(managerToken, /^RSTKN-1-/);
    const before = ((await request(m.socket, 'GET', '/nodes')).json as unknown[]).length;
    await t.rejects(
      joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: managerToken, stateDir: join(work, 'x'), hostname: 'x', labels: {}, log: quiet }),
      /join refused: joining as a manager is not supported yet/,
      'refused with a clear error',
    );
    t.notOk(existsSync(join(work, 'x', 'node.crt')), 'no certificate kept');
    t.equal(((await request(m.socket, 'GET', '/nodes')).json as unknown[]).length, before, 'no node stored');
    t.ok(await waitFor(() => /join refused: manager token/.test(m.logs()), 'the refusal in the log'), 'the refusal is logged');
    // The worker token still joins.
    const w = await joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: m.workerToken, stateDir: join(work, 'w'), hostname: 'w', labels: {}, log: quiet });
    t.ok(w.nodeId, 'the worker token joins');
  });

  t.test("an agent accepts only the manager it pinned, not another swarm-manager certificate of the same CA", async (t) => {
    const m = await startManager({ t });
    const work = mkdtempSync(join(tmpdir(), 'rs-impostor-'));
    const sessions: ManagerSession[] = [];
    let impostor: https.Server | null = null;
    t.teardown(async () => {
      for (const s of sessions) await s.stop();
      if (impostor) {
        impostor.closeAllConnections();
        await new Promise((r) => impostor!.close(r));
      }
      rmSync(work, { recursive: true, force: true });
    });
    const stateDir = join(work, 'agent');
    await joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: m.workerToken, stateDir, hostname: 'victim', labels: {}, log: quiet });
    const id = loadIdentity(stateDir);
    if (!id) throw new Error('no identity kept');
    const cfg = JSON.parse(readFileSync(join(m.stateDir, 'cluster.json'), 'utf8')) as { nodeId: string };
    t.equal(id.managerId, cfg.nodeId, "the manager's node ID is pinned at join (state dir manager.id)");

    // The attacker's server: a manager certificate of the same CA for another node ID, and a WebSocket endpoint
    // that welcomes whoever completes the handshake.
    const cluster = await OpenCluster.open(m.stateDir);
    const forged = await issueWithNewKey(cluster.ca, { role: 'manager', nodeId: newId(), dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    // With the manager's API it reads nothing: not the join tokens, not the unlock key.
    for (const path of ['/swarm', '/swarm/unlockkey', '/secrets']) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: m.tcpPort, path, ca: [cluster.ca.certPem], cert: forged.certPem, key: forged.keyPem, servername: 'localhost', agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      t.equal(status, 403, `the forged manager certificate on the API: ${path} 403`);
    }
    let upgrades = 0;
    const wss = new WebSocketServer({ noServer: true });
    impostor = https.createServer({ cert: forged.certPem, key: forged.keyPem, ca: [cluster.ca.certPem], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' });
    impostor.on('upgrade', (req, sock, head) => {
      upgrades++;
      wss.handleUpgrade(req, sock, head, (ws) => ws.send(encodeFrame({ type: 'welcome', nodeId: id.nodeId, heartbeatMs: 1000 }), { binary: true }));
    });
    await new Promise<void>((r) => impostor!.listen(0, '127.0.0.1', r));
    const impostorPort = (impostor.address() as AddressInfo).port;

    const cap = capturingLogger();
    const s1 = new ManagerSession({ manager: { host: '127.0.0.1', port: impostorPort }, identity: id, log: cap.log, onAssign: async () => undefined, onConnected: () => undefined });
    sessions.push(s1);
    s1.start();
    const refusals = (): Record<string, unknown>[] => cap.lines.filter((l) => l.msg === 'refusing the server: not the manager this node joined');
    await waitFor(() => refusals().length >= 3, 'three refused attempts');
    const refusal = refusals()[0]!;
    t.match(String(refusal.err), new RegExp(`not the manager ${cfg.nodeId} pinned at join`), 'the log says why');
    t.notOk(s1.isConnected, 'never connected to the impostor');
    t.equal(upgrades, 0, 'the impostor never got a WebSocket request');
    await s1.stop();

    // The real manager is accepted.
    const s2 = new ManagerSession({ manager: { host: '127.0.0.1', port: m.tcpPort }, identity: id, log: quiet, onAssign: async () => undefined, onConnected: () => undefined });
    sessions.push(s2);
    s2.start();
    await waitFor(() => s2.isConnected, 'the session with the real manager');
    await s2.stop();

    // A state dir from before pinning (no manager.id) pins the first manager it reaches: the real one here, after
    // which the impostor is refused as well.
    rmSync(join(stateDir, 'manager.id'));
    const old = loadIdentity(stateDir)!;
    t.equal(old.managerId, undefined);
    const s3 = new ManagerSession({ manager: { host: '127.0.0.1', port: m.tcpPort }, identity: old, log: quiet, onAssign: async () => undefined, onConnected: () => undefined, onPinManager: (mid) => pinManagerId(stateDir, mid) });
    sessions.push(s3);
    s3.start();
    await waitFor(() => s3.isConnected && existsSync(join(stateDir, 'manager.id')), 'connected and pinned');
    t.equal(loadIdentity(stateDir)?.managerId, cfg.nodeId, 'pinned on first connection');
    await s3.stop();
  });
}
