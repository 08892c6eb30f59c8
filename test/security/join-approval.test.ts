// Issue 9, finding 3 (beyond Docker): join approval. With `manager init --join-approval manual`, a holder of the
// worker token gets a certificate but no task and no secret until a manager runs `node accept`. Attack: join with
// the worker token while a global service holding a secret exists, and wait for its task and secret. Real manager,
// a real agent process (legitimate, real FUSE), and the joiner using the agent's own join and session code.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { fuseSkipReason } from '../helpers/env.js';
import { startManager, request, waitFor } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { createSecret, createService, tasksOf } from '../helpers/cluster-ops.js';
import { createLogger } from '../../shared/log.js';
import { joinCluster } from '../../agent/session/join.js';
import { ManagerSession } from '../../agent/session/session.js';

interface NodeJson {
  ID: string;
  Version: { Index: number };
  Spec: Record<string, unknown> & { Membership?: string };
}

const skip = fuseSkipReason();
if (skip) {
  t.comment(`SKIP join-approval: ${skip}`);
  t.test('the whole file', { skip }, () => undefined);
} else {
  const quiet = createLogger('test', 'silent');

  t.test('manual join approval: nothing for a node until it is accepted', async (t) => {
    const m = await startManager({ t, initArgs: ['--join-approval', 'manual'] });
    const legit = managedAgent({ managerPort: m.tcpPort, hostname: 'legit' });
    const work = mkdtempSync(join(tmpdir(), 'rs-approval-'));
    const sessions: ManagerSession[] = [];
    t.teardown(async () => {
      for (const s of sessions) await s.stop();
      await legit.cleanup();
      rmSync(legit.dir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    });
    t.same((await request(m.socket, 'GET', '/runsecrets/join-approval')).json, { Mode: 'manual' });

    const value = Buffer.from(`everywhere-${randomBytes(24).toString('hex')}`);
    const sid = await createSecret(m, 'everywhere_pw', value);
    await createService(m, {
      Name: 'everywhere',
      TaskTemplate: {
        ContainerSpec: { Image: 'none', Command: ['sleep', '1d'], StopGracePeriod: 1e9, Secrets: [{ SecretID: sid, SecretName: 'everywhere_pw', File: { Name: 'everywhere_pw', UID: '0', GID: '0', Mode: 0o444 } }] },
      },
      Mode: { Global: {} },
    });

    await legit.start(m.workerToken); // connects: a pending node may hold a session (and heartbeat), nothing more
    const joiner = await joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: m.workerToken, stateDir: join(work, 'joiner'), hostname: 'joiner', labels: {}, log: quiet });
    t.ok(joiner.certPem.includes('BEGIN CERTIFICATE'), 'the joiner got a certificate');
    const got = { assigns: 0, tasks: new Set<string>(), objects: new Set<string>(), bytes: [] as Buffer[] };
    const s = new ManagerSession({
      manager: { host: '127.0.0.1', port: m.tcpPort },
      identity: joiner,
      log: quiet,
      onAssign: async (msg, blobs) => {
        got.assigns++;
        for (const x of msg.tasks) got.tasks.add(x.id);
        for (const o of msg.objects) got.objects.add(o.id);
        for (const b of blobs) got.bytes.push(Buffer.from(b));
      },
      onConnected: () => undefined,
    });
    sessions.push(s);
    s.start();
    await waitFor(() => got.assigns > 0, "the joiner's first (full) assignment");

    const nodes = (await request(m.socket, 'GET', `/nodes?filters=${encodeURIComponent(JSON.stringify({ membership: ['pending'] }))}`)).json as NodeJson[];
    const legitId = ((await request(m.socket, 'GET', '/nodes/legit')).json as NodeJson).ID;
    t.same(nodes.map((n) => n.ID).sort(), [joiner.nodeId, legitId].sort(), 'both joined pending');
    const ls = await m.cli(['node', 'ls']);
    t.match(ls.stdout, /legit\s+Pending\s+Active/, 'node ls shows the pending node as Pending');
    t.match(ls.stdout, /joiner\s+Pending\s+Active/);
    t.same(await tasksOf(m, 'everywhere'), [], 'no task for a pending node');

    // A manager accepts the legitimate node: it gets the task and the secret.
    const acc = await m.cli(['node', 'accept', 'legit']);
    t.equal(acc.code, 0, acc.stderr);
    t.equal(acc.stdout, 'legit\n', 'node accept prints the argument');
    const task = await waitFor(async () => (await tasksOf(m, 'everywhere')).find((x) => x.Status.State === 'running'), 'the accepted node runs the task');
    await waitFor(() => existsSync(join(legit.mount, task.ID, 'everywhere_pw')), 'its secret on the mount');
    t.same(readFileSync(join(legit.mount, task.ID, 'everywhere_pw')), value, 'the accepted node has the secret');
    // Something changes on the pending node (a manager labels it): its session is synced again, still with nothing.
    const before = got.assigns;
    const lab = await m.cli(['node', 'update', '--label-add', 'x=y', joiner.nodeId]);
    t.equal(lab.code, 0, lab.stderr);
    t.same((await tasksOf(m, 'everywhere')).map((x) => x.NodeID), [task.NodeID], 'still no task for the pending node');
    t.equal(got.assigns, before, 'nothing more was sent to it');
    t.same([got.tasks.size, got.objects.size], [0, 0], 'the pending node was sent no task and no secret');
    t.notOk(got.bytes.some((b) => b.includes(value)), "the secret's bytes in nothing it received");

    // Back to pending is refused; accepting the joiner gives it its task and secret.
    const cur = (await request(m.socket, 'GET', '/nodes/legit')).json as NodeJson;
    const back = await request(m.socket, 'POST', `/nodes/legit/update?version=${cur.Version.Index}`, { ...cur.Spec, Membership: 'pending' });
    t.equal(back.status, 400);
    t.match((back.json as { message: string }).message, /is already accepted: its membership can't go back to pending/);
    t.equal((await m.cli(['node', 'accept', joiner.nodeId])).code, 0);
    await waitFor(() => got.objects.has(sid) && got.bytes.some((b) => b.equals(value)), 'the accepted joiner gets the secret');
    t.equal(got.tasks.size, 1, 'and its task');

    // manager update --join-approval auto: the next joiner is accepted at once.
    const up = await m.cli(['manager', 'update', '--join-approval', 'auto', '--socket', m.socket]);
    t.equal(up.code, 0, up.stderr);
    t.equal(up.stdout, 'Join approval is now auto.\n');
    const later = await joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: m.workerToken, stateDir: join(work, 'later'), hostname: 'later', labels: {}, log: quiet });
    t.equal(((await request(m.socket, 'GET', `/nodes/${later.nodeId}`)).json as NodeJson).Spec.Membership, 'accepted', 'auto: accepted at once');
    const bad = await m.cli(['manager', 'update', '--join-approval', 'maybe', '--socket', m.socket]);
    t.not(bad.code, 0);
    t.match(bad.stderr, /maybe/, 'a bad mode is refused');
  });
}
