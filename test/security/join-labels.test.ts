// Issue 9, finding 2: a joiner must not choose its node labels. Attack: a fake node joins with the worker token and
// claims `Labels {"n":"a"}`, hoping to match services constrained to node.labels.n==a (and so receive their
// secrets). Now what it claims is kept as its engine labels (untrusted, `engine.labels.KEY`); node.labels are set
// by a manager only. Real manager, one real agent process (the legitimate node, real FUSE), and the fake joiner
// using the agent's own join and session code, recording everything it is sent. Also: node rows stored before the
// split (labels in Spec.Labels) are migrated to engine labels when the manager opens its store.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { fuseSkipReason } from '../helpers/env.js';
import { spawnSync } from 'node:child_process';
import { childEnv, startManager, request, waitFor } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { createSecret, createService, runningTask, tasksOf, type TaskJson } from '../helpers/cluster-ops.js';
import { createLogger } from '../../shared/log.js';
import { joinCluster } from '../../agent/session/join.js';
import { ManagerSession } from '../../agent/session/session.js';
import { OpenCluster } from '../../manager/cluster/state.js';
import { SqliteStore } from '../../manager/store/sqlite.js';

interface NodeJson {
  ID: string;
  Version: { Index: number };
  Spec: { Labels: Record<string, string>; Membership?: string };
  Description: { Hostname: string; Engine?: { Labels: Record<string, string> } };
}

function spec(name: string, constraints: string[], secret: { id: string; name: string } | null, mode: 'global' | 'replicated'): Record<string, unknown> {
  return {
    Name: name,
    TaskTemplate: {
      ContainerSpec: {
        Image: 'none',
        Command: ['sleep', '1d'],
        StopGracePeriod: 1_000_000_000,
        ...(secret ? { Secrets: [{ SecretID: secret.id, SecretName: secret.name, File: { Name: secret.name, UID: '0', GID: '0', Mode: 0o444 } }] } : {}),
      },
      Placement: { Constraints: constraints },
      RestartPolicy: { Delay: 0 },
    },
    Mode: mode === 'global' ? { Global: {} } : { Replicated: { Replicas: 1 } },
  };
}

const skip = fuseSkipReason();
if (skip) {
  t.comment(`SKIP join-labels: ${skip}`);
  t.test('the whole file', { skip }, () => undefined);
} else {
  const quiet = createLogger('test', 'silent');

  t.test('a joiner cannot choose node labels', async (t) => {
    const m = await startManager({ t });
    const legit = managedAgent({ managerPort: m.tcpPort, hostname: 'legit', labels: ['disk=ssd'] });
    const work = mkdtempSync(join(tmpdir(), 'rs-labels-'));
    const sessions: ManagerSession[] = [];
    t.teardown(async () => {
      for (const s of sessions) await s.stop();
      await legit.cleanup();
      rmSync(legit.dir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    });
    await legit.start(m.workerToken);

    // The attacker: a node of its own making, claiming the label that sensitive services are pinned to.
    const fake = await joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: m.workerToken, stateDir: join(work, 'fake'), hostname: 'fake', labels: { n: 'a' }, log: quiet });
    const got = { tasks: new Set<string>(), objects: new Set<string>(), bytes: [] as Buffer[] };
    const s = new ManagerSession({
      manager: { host: '127.0.0.1', port: m.tcpPort },
      identity: fake,
      log: quiet,
      onAssign: async (msg, blobs) => {
        for (const x of msg.tasks) got.tasks.add(x.id);
        for (const o of msg.objects) got.objects.add(o.id);
        for (const b of blobs) got.bytes.push(Buffer.from(b));
      },
      onConnected: () => undefined,
    });
    sessions.push(s);
    s.start();
    await waitFor(() => s.isConnected, 'the fake node session');

    const node = async (ref: string): Promise<NodeJson> => (await request(m.socket, 'GET', `/nodes/${ref}`)).json as NodeJson;
    const fakeNode = await node(fake.nodeId);
    t.same(fakeNode.Spec.Labels, {}, 'what the joiner claimed is not a node label');
    t.same(fakeNode.Description.Engine?.Labels, { n: 'a' }, 'it is kept as an engine label');
    const legitNode = await node('legit');
    t.same(legitNode.Description.Engine?.Labels, { disk: 'ssd' }, 'agent run --label: an engine label');
    t.same(legitNode.Spec.Labels, {}, 'agent run --label sets no node label');
    const pretty = await m.cli(['node', 'inspect', '--pretty', fake.nodeId]);
    t.match(pretty.stdout, /Engine Labels:\n - n=a\n/, 'node inspect --pretty shows it under Engine Labels');
    t.notMatch(pretty.stdout, /^Labels:/m, 'and no node Labels section');
    const docker = spawnSync('docker', ['node', 'inspect', '--pretty', fake.nodeId], { env: childEnv({ DOCKER_HOST: m.dockerHost }), encoding: 'utf8' });
    if (docker.error) t.comment('docker CLI not installed: its node inspect not compared');
    else {
      t.match(docker.stdout, /Engine Labels:\n - n=a\n/, "docker's node inspect --pretty shows it under Engine Labels too");
      t.notMatch(docker.stdout, /^Labels:/m, 'and no node Labels section');
    }
    const byFilter = (f: Record<string, string[]>): Promise<string[]> =>
      request(m.socket, 'GET', `/nodes?filters=${encodeURIComponent(JSON.stringify(f))}`).then((r) => (r.json as NodeJson[]).map((n) => n.ID));
    t.same(await byFilter({ 'node.label': ['n=a'] }), [], 'node ls -f node.label=n=a: none');
    t.same(await byFilter({ label: ['n=a'] }), [fake.nodeId], 'node ls -f label=n=a (engine labels): the fake node');

    // A global service pinned to node.labels.n==a, with a secret.
    const value = Buffer.from(`pinned-${randomBytes(24).toString('hex')}`);
    const sid = await createSecret(m, 'pinned_pw', value);
    await createService(m, spec('pinned', ['node.labels.n==a'], { id: sid, name: 'pinned_pw' }, 'global'));
    // A replicated service on the same label, and a marker service that every node gets: once the fake node has
    // received the marker's assignment, it has also been sent whatever else the manager meant for it.
    await createService(m, spec('everywhere', [], null, 'global'));
    await waitFor(async () => (await tasksOf(m, 'everywhere')).some((x) => x.NodeID === fake.nodeId) && got.tasks.size > 0, 'the marker task on the fake node');
    t.same(
      (await tasksOf(m, 'pinned')).map((x) => x.NodeID),
      [],
      'before any manager sets the label: no node gets a task of the pinned service',
    );

    // A manager labels the legitimate node: it (and only it) gets the task and the secret.
    const upd = await m.cli(['node', 'update', '--label-add', 'n=a', 'legit']);
    t.equal(upd.code, 0, upd.stderr);
    const task = await runningTask(m, 'pinned');
    t.equal(task.NodeID, legitNode.ID, 'the pinned task runs on the labelled node');
    await waitFor(() => existsSync(join(legit.mount, task.ID, 'pinned_pw')), 'the secret on the legitimate mount');
    t.same(readFileSync(join(legit.mount, task.ID, 'pinned_pw')), value, 'the legitimate node has the secret');

    // A single replica pinned to the label, moved by `service update --force` again and again: the scheduler
    // favours the emptiest node (the fake one), yet the task never goes there.
    await createService(m, spec('single', ['node.labels.n==a'], { id: sid, name: 'pinned_pw' }, 'replicated'));
    let cur = await runningTask(m, 'single');
    const placed: string[] = [cur.NodeID];
    for (let i = 0; i < 3; i++) {
      const r = await m.cli(['service', 'update', '--force', '--detach', 'single']);
      t.equal(r.code, 0, r.stderr);
      const prev = cur.ID;
      cur = await waitFor(async () => (await tasksOf(m, 'single')).find((x: TaskJson) => x.ID !== prev && x.DesiredState === 'running' && x.Status.State === 'running'), 'the forced replacement');
      placed.push(cur.NodeID);
    }
    t.same(new Set(placed), new Set([legitNode.ID]), `every replica on the labelled node (${placed.length} placements)`);

    // engine.labels constraints work: they match what a node said about itself (and are documented as untrusted).
    await createService(m, spec('by-engine', ['engine.labels.n==a'], null, 'replicated'));
    const eng = await waitFor(async () => (await tasksOf(m, 'by-engine')).find((x) => x.NodeID !== ''), 'the engine-label task placed');
    t.equal(eng.NodeID, fake.nodeId, 'engine.labels.n==a places on the node that claimed it');
    await createService(m, spec('by-engine-ssd', ['engine.labels.disk==ssd'], null, 'replicated'));
    t.equal((await runningTask(m, 'by-engine-ssd')).NodeID, legitNode.ID, 'engine.labels.disk==ssd: the agent started with --label disk=ssd');

    // The fake node was sent neither the pinned tasks nor the secret.
    const pinnedIds = [...(await tasksOf(m, 'pinned')), ...(await tasksOf(m, 'single'))].map((x) => x.ID);
    t.same(pinnedIds.filter((id) => got.tasks.has(id)), [], 'no pinned task was ever assigned to the fake node');
    t.notOk(got.objects.has(sid), 'the secret was never sent to the fake node');
    t.notOk(got.bytes.some((b) => b.includes(value)), "the secret's bytes are in nothing the fake node received");
  });

  t.test("node rows stored before the split: the node's own labels become engine labels", async (t) => {
    const m = await startManager({ t });
    const work = mkdtempSync(join(tmpdir(), 'rs-labels-mig-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const old = await joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: m.workerToken, stateDir: join(work, 'old'), hostname: 'old', labels: {}, log: quiet });
    t.equal(await m.stop(), 0);
    // Write the row as the previous version did: the joiner's labels in Spec.Labels, no Description.Engine.
    const c = await OpenCluster.open(m.stateDir);
    const store = new SqliteStore({ path: c.storePath, dek: c.dek });
    const cur = await store.get('node', old.nodeId);
    if (!cur) throw new Error('the joined node is not stored');
    const { Engine: _dropped, ...desc } = cur.spec.Description;
    const { Membership: _m, ...oldSpec } = cur.spec.Spec;
    await store.update('node', old.nodeId, cur.version, { ...cur.spec, Spec: { ...oldSpec, Labels: { n: 'a' } }, Description: desc });
    await store.close();
    await m.restart();
    const n = (await request(m.socket, 'GET', `/nodes/${old.nodeId}`)).json as NodeJson;
    t.same(n.Spec.Labels, {}, 'no node label left');
    t.same(n.Description.Engine?.Labels, { n: 'a' }, 'the old labels are engine labels now');
    t.equal(n.Spec.Membership, 'accepted', 'an old node stays a member');
    t.ok(await waitFor(() => /moved to engine labels/.test(m.logs()), 'the migration in the log'), 'the migration is logged');
  });
}
