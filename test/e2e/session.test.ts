// The agent<->manager channel without FUSE: a real manager process, and in this process the agent's own join and
// session code (agent/session/), recording exactly what each node receives. Checks: CA pinning and token checks,
// the join-only door for clients without a certificate, per-node assignments carrying only referenced secrets (as
// binary blobs), drops when a reference goes, status reports only for one's own tasks, heartbeats marking a silent
// node down, and node rm cutting the node off.
import t from 'tap';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startManager, request, waitFor, type ManagerHandle } from '../helpers/manager.js';
import { createLogger } from '../../shared/log.js';
import { joinCluster, type NodeIdentity } from '../../agent/session/join.js';
import { ManagerSession, type AssignMessage } from '../../agent/session/session.js';
import type { TaskAssignment } from '../../shared/protocol.js';

if (process.getuid?.() !== 0) {
  t.comment('SKIP: needs root (the manager keeps root-only files and socket)');
  t.pass('skipped: needs root');
} else {
  process.env.RUNSECRETS_HEARTBEAT_MS = '300';
  const log = createLogger('test-agent', 'silent');

  interface Seen {
    tasks: Map<string, TaskAssignment>;
    objects: Map<string, Buffer>;
    frames: number;
  }

  function record(): { seen: Seen; onAssign(msg: AssignMessage, blobs: Uint8Array[]): Promise<void> } {
    const seen: Seen = { tasks: new Map(), objects: new Map(), frames: 0 };
    return {
      seen,
      onAssign: async (msg, blobs) => {
        seen.frames++;
        if (msg.full) {
          seen.tasks.clear();
          seen.objects.clear();
        }
        for (const a of msg.tasks) seen.tasks.set(a.id, a);
        for (const id of msg.removeTasks) seen.tasks.delete(id);
        for (const o of msg.objects) seen.objects.set(`${o.kind}/${o.id}`, Buffer.from(blobs[o.blob]!)); // copy: the frame is wiped
        for (const r of msg.removeObjects) seen.objects.delete(`${r.kind}/${r.id}`);
      },
    };
  }

  function rawGet(port: number, path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path, method: 'GET', rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  }

  async function secret(m: ManagerHandle, name: string, value: string): Promise<string> {
    const r = await request(m.socket, 'POST', '/secrets/create', { Name: name, Data: Buffer.from(value).toString('base64') });
    return (r.json as { ID: string }).ID;
  }

  function serviceSpec(name: string, host: string, secrets: { id: string; name: string; target?: string }[]): Record<string, unknown> {
    return {
      Name: name,
      Labels: { 'com.runsecrets.secret-update': 'live' }, // swaps are followed on the same task
      TaskTemplate: {
        ContainerSpec: { Image: 'none', Command: ['sleep', '1d'], Secrets: secrets.map((s) => ({ SecretID: s.id, SecretName: s.name, File: { Name: s.target ?? s.name, UID: '0', GID: '0', Mode: 0o400 } })) },
        Placement: { Constraints: [`node.hostname==${host}`] },
      },
    };
  }

  t.test('join, assignments, status, heartbeats, node rm', async (t) => {
    const m = await startManager({ t });
    const dir = mkdtempSync(join(tmpdir(), 'rs-session-'));
    const sessions: ManagerSession[] = [];
    t.teardown(async () => {
      for (const s of sessions) await s.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const manager = { host: '127.0.0.1', port: m.tcpPort };
    const join1 = (token: string, host: string) => joinCluster({ manager, token, stateDir: join(dir, host), hostname: host, labels: {}, log });

    // Tokens: a wrong secret is refused by the manager; a wrong CA digest is refused before the token is sent.
    const bad = m.workerToken.replace(/-[0-9a-z]{25}$/, '-' + '0'.repeat(25));
    await t.rejects(join1(bad, 'x0'), /invalid join token/, 'wrong token secret refused');
    const otherCa = m.workerToken.replace(/^RSTKN-1-[0-9a-z]{50}/, 'RSTKN-1-' + '1'.repeat(50));
    await t.rejects(join1(otherCa, 'x0'), /fingerprint/, "a CA that does not match the token's fingerprint is refused");

    // Without a certificate: the CA (public) and joining, nothing else.
    t.equal(await rawGet(m.tcpPort, '/runsecrets/ca'), 200, 'CA fetch open');
    await t.rejects(rawGet(m.tcpPort, '/secrets'), 'the API without a certificate: connection dropped');
    await t.rejects(rawGet(m.tcpPort, '/_ping'), 'even _ping without a certificate: connection dropped');

    const id1: NodeIdentity = await join1(m.workerToken, 'x1');
    const id2: NodeIdentity = await join1(m.workerToken, 'x2');
    t.not(id1.nodeId, id2.nodeId, 'each join makes a node');
    const r1 = record();
    const r2 = record();
    const connect = (identity: NodeIdentity, r: ReturnType<typeof record>): ManagerSession => {
      const s = new ManagerSession({ manager, identity, log, onAssign: r.onAssign, onConnected: () => undefined });
      sessions.push(s);
      s.start();
      return s;
    };
    const s1 = connect(id1, r1);
    const s2 = connect(id2, r2);
    await waitFor(() => s1.isConnected && s2.isConnected, 'both sessions');

    const sA = await secret(m, 'sA', 'value-A');
    const sB = await secret(m, 'sB', 'value-B');
    const sC = await secret(m, 'sC', 'value-C');
    t.equal((await request(m.socket, 'POST', '/services/create', serviceSpec('svcA', 'x1', [{ id: sA, name: 'sA' }]))).status, 201);
    t.equal((await request(m.socket, 'POST', '/services/create', serviceSpec('svcB', 'x2', [{ id: sB, name: 'sB' }]))).status, 201);

    await waitFor(() => r1.seen.tasks.size === 1 && r1.seen.objects.size === 1 && r2.seen.tasks.size === 1 && r2.seen.objects.size === 1, 'assignments');
    t.same([...r1.seen.objects.keys()], [`secret/${sA}`], 'node 1 got only sA');
    t.same([...r2.seen.objects.keys()], [`secret/${sB}`], 'node 2 got only sB');
    t.equal(r1.seen.objects.get(`secret/${sA}`)?.toString(), 'value-A', 'the bytes, as a binary blob');
    const taskA = [...r1.seen.tasks.values()][0]!;
    t.equal(taskA.serviceName, 'svcA');
    t.same(taskA.files, [{ kind: 'secret', id: sA, target: 'sA', uid: 0, gid: 0, mode: 0o400 }], 'its file reference');
    t.notOk([...r1.seen.objects.keys(), ...r2.seen.objects.keys()].includes(`secret/${sC}`), 'an unused secret goes nowhere');

    // Status: one's own task is recorded; another node's report about it is ignored.
    // The forged report first, and judged (its refusal logged) before the real one goes: otherwise the real one
    // could land first and hide a manager that accepted the forgery.
    const refusals = (): number => m.logs().split("status for a task that is not this node's: ignored").length - 1;
    const refusedBefore = refusals();
    s2.send({ type: 'status', taskId: taskA.id, state: 'failed', err: 'forged' });
    await waitFor(() => refusals() > refusedBefore, "node 2's report about node 1's task refused");
    const afterForged = ((await request(m.socket, 'GET', `/tasks/${taskA.id}`)).json as { Status: { State: string; Err?: string } }).Status;
    t.not(afterForged.State, 'failed', `the forged report changed nothing (${afterForged.State})`);
    s1.send({ type: 'status', taskId: taskA.id, state: 'running', message: 'started' });
    await waitFor(async () => ((await request(m.socket, 'GET', `/tasks/${taskA.id}`)).json as { Status: { State: string } }).Status.State === 'running', 'the task running');

    // Swap sA for sC on svcA: node 1 gets sC, is told to drop sA; node 2 sees nothing of it.
    const svc = (await request(m.socket, 'GET', '/services/svcA')).json as { Version: { Index: number } };
    const framesB = r2.seen.frames;
    const up = await request(m.socket, 'POST', `/services/svcA/update?version=${svc.Version.Index}`, serviceSpec('svcA', 'x1', [{ id: sC, name: 'sC', target: 'sA' }]));
    t.equal(up.status, 200, up.text);
    await waitFor(() => r1.seen.objects.has(`secret/${sC}`) && !r1.seen.objects.has(`secret/${sA}`), 'sC in, sA dropped');
    t.equal([...r1.seen.tasks.keys()][0], taskA.id, 'same task, updated in place');
    t.equal(r1.seen.objects.get(`secret/${sC}`)?.toString(), 'value-C', 'the new bytes');
    t.equal(r2.seen.frames, framesB, 'node 2 was sent nothing');

    // A silent node goes down after missed heartbeats.
    await s2.stop();
    await waitFor(async () => {
      const n = ((await request(m.socket, 'GET', `/nodes/${id2.nodeId}`)).json as { Status: { State: string } }).Status.State;
      return n === 'down';
    }, 'node 2 down');

    // node rm: the session is cut and the certificate refused from then on.
    t.equal((await request(m.socket, 'DELETE', `/nodes/${id1.nodeId}?force=true`)).status, 200, 'node rm');
    await waitFor(() => !s1.isConnected && m.logs().includes('revoked certificate refused'), 'node 1 cut off and refused');
  });
}
