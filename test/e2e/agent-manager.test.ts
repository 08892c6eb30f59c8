// End to end on real processes: a manager, two agents joined with the worker token over mutual TLS, each on its own
// FUSE mount and state dir. A task writes what it reads at /run/secrets/NAME (and its pid) to a file we poll, so
// we see the file from inside its namespace and that it is never restarted by a secrets-only change.
import t from 'tap';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fuseSkipReason } from '../helpers/env.js';
import { startManager, request, waitFor, type ManagerHandle } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';

const skip = fuseSkipReason();
if (skip) {
  t.comment(`SKIP e2e: ${skip}`);
  t.pass(`skipped: ${skip}`);
} else {
  // Short heartbeats keep the test quick; the manager child inherits this.
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';

  interface TaskJson {
    ID: string;
    NodeID: string;
    DesiredState: string;
    Status: { State: string; Err?: string };
  }

  const read = (p: string): string | null => {
    try {
      return readFileSync(p, 'utf8').trim();
    } catch {
      return null;
    }
  };

  async function tasksOf(m: ManagerHandle, service: string): Promise<TaskJson[]> {
    const r = await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`);
    return r.json as TaskJson[];
  }

  async function runningTask(m: ManagerHandle, service: string): Promise<TaskJson> {
    return waitFor(async () => (await tasksOf(m, service)).find((x) => x.Status.State === 'running' && x.DesiredState === 'running'), `a running task of ${service}`);
  }

  async function createSecret(m: ManagerHandle, name: string, value: string): Promise<string> {
    const r = await request(m.socket, 'POST', '/secrets/create', { Name: name, Labels: {}, Data: Buffer.from(value).toString('base64') });
    if (r.status !== 201) throw new Error(`secret create: ${r.status} ${r.text}`);
    return (r.json as { ID: string }).ID;
  }

  function reader(out: string, name: string): string[] {
    // Writes its pid once, then over and over what /run/secrets/NAME holds (or GONE), replaced atomically.
    const script =
      `echo $$ > ${out}/pid; while :; do if cat /run/secrets/${name} > ${out}/v.tmp 2>/dev/null; then :; else echo GONE > ${out}/v.tmp; fi; ` +
      `mv ${out}/v.tmp ${out}/v; sleep 0.05; done`;
    return ['/bin/sh', '-c', script];
  }

  async function createService(m: ManagerHandle, name: string, host: string, secret: { id: string; name: string }, out: string): Promise<void> {
    const r = await request(m.socket, 'POST', '/services/create', {
      Name: name,
      Labels: { 'com.runsecrets.secret-update': 'live' }, // the test follows one task through grants and revokes
      TaskTemplate: {
        ContainerSpec: {
          Image: 'none',
          Command: reader(out, secret.name),
          StopGracePeriod: 1_000_000_000,
          Secrets: [{ SecretID: secret.id, SecretName: secret.name, File: { Name: secret.name, UID: '0', GID: '0', Mode: 0o444 } }],
        },
        Placement: { Constraints: [`node.hostname==${host}`] },
      },
      Mode: { Replicated: { Replicas: 1 } },
    });
    if (r.status !== 201) throw new Error(`service create: ${r.status} ${r.text}`);
  }

  const outDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'rs-e2e-out-'));
    chmodSync(d, 0o777);
    return d;
  };

  t.test('agents join over mTLS; secrets reach only their tasks; live revoke; manager and agent restarts', async (t) => {
    const m = await startManager({ t });
    const a = managedAgent({ managerPort: m.tcpPort, hostname: 'agent-a', labels: ['zone=a'] });
    const b = managedAgent({ managerPort: m.tcpPort, hostname: 'agent-b' });
    const outA = outDir();
    const outB = outDir();
    t.teardown(async () => {
      await a.cleanup();
      await b.cleanup();
      for (const d of [a.dir, b.dir, outA, outB]) rmSync(d, { recursive: true, force: true });
    });

    await a.start(m.workerToken);
    await b.start(m.workerToken);
    for (const f of ['node.key', 'node.crt', 'ca.crt']) t.equal(statSync(join(a.stateDir, f)).mode & 0o777, 0o600, `${f} is 0600`);
    const nodes = (await request(m.socket, 'GET', '/nodes')).json as {
      ID: string;
      Description: { Hostname: string; Engine?: { Labels: Record<string, string> } };
      Spec: { Labels: Record<string, string> };
      Status: { State: string };
    }[];
    const nodeA = nodes.find((n) => n.Description.Hostname === 'agent-a');
    t.ok(nodeA, 'agent-a registered');
    t.same(nodeA?.Description.Engine?.Labels, { zone: 'a' }, 'with its --label as engine labels');
    t.same(nodeA?.Spec.Labels, {}, 'and no node label (only a manager sets those)');
    t.ok(nodes.find((n) => n.Description.Hostname === 'agent-b'), 'agent-b registered');

    const s1 = await createSecret(m, 's1', 'hunter2-A');
    const s2 = await createSecret(m, 's2', 'only-for-B');
    await createService(m, 'web', 'agent-a', { id: s1, name: 's1' }, outA);
    await createService(m, 'other', 'agent-b', { id: s2, name: 's2' }, outB);

    const taskA = await runningTask(m, 'web');
    const taskB = await runningTask(m, 'other');
    t.equal(taskA.NodeID, nodeA?.ID, 'web runs on agent-a');
    await waitFor(() => read(join(outA, 'v')) === 'hunter2-A', 'the task reading /run/secrets/s1');
    await waitFor(() => read(join(outB, 'v')) === 'only-for-B', 'the other task reading /run/secrets/s2');
    const pidA = read(join(outA, 'pid'));

    // What each agent received: its own task folders only, with only their files.
    t.same(readdirSync(a.mount), [taskA.ID], "agent-a's mount holds only its task");
    t.same(readdirSync(b.mount), [taskB.ID], "agent-b's mount holds only its task");
    t.same(readdirSync(join(b.mount, taskB.ID)), ['s2'], "agent-b's task folder holds only s2");
    t.notOk(b.logs().some((l) => JSON.stringify(l).includes('hunter2-A')), 'no secret bytes in agent logs');

    const rm = await request(m.socket, 'DELETE', '/secrets/s1');
    t.not(rm.status, 204, 'secret rm refused while in use');
    t.match(rm.text, /in use/, `refusal names the use: ${rm.text}`);

    // Manager away: the task keeps reading its file; back again: the session resumes, nothing restarts.
    await m.stop();
    const since = Date.now();
    await waitFor(() => statSync(join(outA, 'v')).mtimeMs > since + 200 && read(join(outA, 'v')) === 'hunter2-A', 'reads continuing while the manager is down');
    await m.restart();
    // A change right after the restart reaches the agent once it has reconnected.
    const svc = (await request(m.socket, 'GET', '/services/web')).json as { Version: { Index: number }; Spec: { TaskTemplate: { ContainerSpec: Record<string, unknown> } } };
    const spec = svc.Spec;
    delete spec.TaskTemplate.ContainerSpec.Secrets;
    const up = await request(m.socket, 'POST', `/services/web/update?version=${svc.Version.Index}`, spec);
    t.equal(up.status, 200, `service update (secret removed): ${up.text}`);
    await waitFor(() => read(join(outA, 'v')) === 'GONE', 'the file to vanish inside the running task', 30_000);
    t.equal(read(join(outA, 'pid')), pidA, 'the task was not restarted');
    t.equal((await runningTask(m, 'web')).ID, taskA.ID, 'same task, still running');
    t.same(readdirSync(join(a.mount, taskA.ID)), [], 'the folder is empty');
    t.equal((await request(m.socket, 'DELETE', '/secrets/s1')).status, 204, 'secret rm works once unused');

    // Live grant: a new secret at the same target appears in the running task, again without a restart.
    const s3 = await createSecret(m, 's3', 'fresh-bytes');
    const svc2 = (await request(m.socket, 'GET', '/services/web')).json as typeof svc;
    svc2.Spec.TaskTemplate.ContainerSpec.Secrets = [{ SecretID: s3, SecretName: 's3', File: { Name: 's1', UID: '0', GID: '0', Mode: 0o444 } }];
    const up2 = await request(m.socket, 'POST', `/services/web/update?version=${svc2.Version.Index}`, svc2.Spec);
    t.equal(up2.status, 200, `service update (secret added): ${up2.text}`);
    await waitFor(() => read(join(outA, 'v')) === 'fresh-bytes', 'the granted file inside the running task');
    t.equal(read(join(outA, 'pid')), pidA, 'still not restarted');

    // Agent restart: same identity, full resync; the service runs again on it.
    await a.stop();
    const from = a.logs().length;
    await a.start();
    await a.waitLog((l) => l.msg === 'using the kept node identity', from);
    const again = await runningTask(m, 'web');
    t.equal(again.NodeID, nodeA?.ID, 'web runs on agent-a again after its restart');
    t.same(readdirSync(a.mount), [again.ID], 'its mount shows the running task only');

    // service rm: the task stops and its folder goes.
    t.equal((await request(m.socket, 'DELETE', '/services/other')).status, 200, 'service rm');
    await waitFor(() => readdirSync(b.mount).length === 0, "the removed service's folder gone from agent-b");
    t.notOk(existsSync(join(b.mount, taskB.ID)), 'task folder gone');
  });
}
