// Nodes, scheduling and node removal through the API of a manager running in this process, so that the test can
// register nodes the way the dispatcher will (an internal function, not an API route): spread, drain, node down,
// labels, version checks, and `node rm` revoking the node's certificate at once.
import t from 'tap';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { isRoot, request, runCli, waitFor, type ApiResponse } from '../helpers/manager.js';
import { Manager } from '../../manager/manager.js';
import { createLogger } from '../../shared/log.js';
import { registerNode, reportTaskStatus, setNodeState } from '../../manager/orchestrator/nodes.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'rsm-nodes-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const stateDir = join(dir, 'state');
const socket = join(dir, 'manager.sock');
// Nodes here have no agent: with a 1 h heartbeat the dispatcher never marks them down on its own while the file
// runs (with the default, 3 missed 5 s periods would, ~21 s in); the test sets node states itself.
const init = await runCli(['manager', 'init', '--state-dir', stateDir, '--advertise-addr', '127.0.0.1:2377', '--dispatcher-heartbeat', '1h']);
if (init.code !== 0) throw new Error(`manager init: ${init.stderr}`);
const m = new Manager({ stateDir, socketPath: socket, listen: '127.0.0.1:0', log: createLogger('manager', 'silent') });
await m.start();
t.teardown(() => m.stop());
const certDir = join(dir, 'cert');
const issued = await runCli(['manager', 'cert', 'admin', '--out', certDir, '--socket', socket]);
if (issued.code !== 0) throw new Error(`cert admin: ${issued.stderr}`);
const client = { cert: readFileSync(join(certDir, 'cert.pem'), 'utf8'), key: readFileSync(join(certDir, 'key.pem'), 'utf8'), ca: readFileSync(join(certDir, 'ca.pem'), 'utf8') };
const serial = new X509Certificate(client.cert).serialNumber;
const store = m.state!.store;

const api = (method: string, path: string, body?: unknown): Promise<ApiResponse> => request(socket, method, path, body);
const msg = (r: ApiResponse): string => (r.json as { message?: string } | undefined)?.message ?? r.text;
interface Task {
  ID: string;
  NodeID?: string;
  Status: { State: string; Err?: string };
  DesiredState: string;
}
interface Node {
  ID: string;
  Version: { Index: number };
  Spec: { Labels: Record<string, string>; Availability: string; Role: string };
  Status: { State: string };
}

function tlsPing(): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port: m.tcpPort!, path: '/_ping', ...client, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

async function live(service: string): Promise<Task[]> {
  const f = encodeURIComponent(JSON.stringify({ service: [service], 'desired-state': ['running'] }));
  return (await api('GET', `/tasks?filters=${f}`)).json as Task[];
}
const spread = (ts: Task[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const x of ts) if (x.Status.State === 'assigned' || x.Status.State === 'running') out[x.NodeID ?? ''] = (out[x.NodeID ?? ''] ?? 0) + 1;
  return out;
};
const same = (a: Record<string, number>, b: Record<string, number>): boolean => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

const n1 = (await registerNode(store, { hostname: 'worker-1', certSerial: serial, labels: { zone: 'a' } })).id;
const n2 = (await registerNode(store, { hostname: 'worker-2' })).id;

t.test('nodes list and inspect; replicas spread; drain moves them; labels', async (t) => {
  const l = (await api('GET', '/nodes')).json as Node[];
  t.equal(l.length, 3, 'the manager and two workers');
  t.same(((await api('GET', '/nodes?filters={"role":["worker"]}')).json as Node[]).map((n) => n.ID).sort(), [n1, n2].sort());
  const one = (await api('GET', '/nodes/worker-1')).json as Node;
  t.match(one, { ID: n1, Spec: { Role: 'worker', Availability: 'active', Labels: { zone: 'a' } }, Status: { State: 'ready' } });

  const r = await api('POST', '/services/create', { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'alpine', Args: ['sleep', '1d'] }, RestartPolicy: { Delay: 0 } }, Mode: { Replicated: { Replicas: 4 } } });
  t.equal(r.status, 201, r.text);
  await waitFor(async () => same(spread(await live('web')), { [n1]: 2, [n2]: 2 }), 'two tasks on each worker');

  let u = await api('POST', `/nodes/${n1}/update?version=${one.Version.Index + 99}`, { ...one.Spec, Availability: 'drain' });
  t.equal(msg(u), 'rpc error: code = Unknown desc = update out of sequence');
  u = await api('POST', `/nodes/${n1}/update?version=${one.Version.Index}`, { ...one.Spec, Role: 'manager' });
  t.match(msg(u), /can't change role/);
  u = await api('POST', `/nodes/${n1}/update?version=${one.Version.Index}`, { ...one.Spec, Availability: 'drain', Labels: { zone: 'b' } });
  t.equal(u.status, 200, u.text);
  t.match((await api('GET', `/nodes/${n1}`)).json, { Spec: { Availability: 'drain', Labels: { zone: 'b' } } });
  await waitFor(async () => same(spread(await live('web')), { [n2]: 4 }), 'all tasks moved off the drained node');
  const cur = (await api('GET', `/nodes/${n1}`)).json as Node;
  t.equal((await api('POST', `/nodes/${n1}/update?version=${cur.Version.Index}`, { ...cur.Spec, Availability: 'active' })).status, 200);
});

t.test('running tasks count in the service status; a down node\'s tasks go pending when no node fits', async (t) => {
  const ts = await live('web');
  for (const x of ts) await reportTaskStatus(store, x.ID, { state: 'running' });
  const l = (await api('GET', '/services?status=true')).json as { ServiceStatus: unknown }[];
  t.same(l[0]!.ServiceStatus, { RunningTasks: 4, DesiredTasks: 4, CompletedTasks: 0 });

  const c = await api('POST', '/services/create', {
    Name: 'pinned',
    TaskTemplate: { ContainerSpec: { Image: 'alpine' }, Placement: { Constraints: [`node.id==${n2}`] }, RestartPolicy: { Delay: 0 } },
  });
  t.equal(c.status, 201);
  await waitFor(async () => (await live('pinned'))[0]?.NodeID === n2, 'pinned on worker-2');
  await setNodeState(store, n2, 'down', 'heartbeat failure');
  const p = await waitFor(async () => {
    const x = (await live('pinned'))[0];
    return x && x.Status.State === 'pending' ? x : null;
  }, 'the pinned task to wait for its node');
  t.equal(p.Status.Err, 'no suitable node (1 node not available for new tasks; scheduling constraints not satisfied on 1 node)');
  await waitFor(async () => same(spread(await live('web')), { [n1]: 4 }), 'web rescheduled onto worker-1');

  // A failed task comes back after its restart delay: the loop wakes up by itself when the delay ends.
  const d = await api('POST', '/services/create', {
    Name: 'delayed',
    TaskTemplate: { ContainerSpec: { Image: 'alpine' }, RestartPolicy: { Condition: 'on-failure', Delay: 100_000_000 } },
  });
  t.equal(d.status, 201);
  const first = await waitFor(async () => (await live('delayed'))[0], 'the delayed service task');
  await reportTaskStatus(store, first.ID, { state: 'failed', err: 'task: non-zero exit (1)', exitCode: 1 });
  const next = await waitFor(async () => (await live('delayed')).find((x) => x.ID !== first.ID), 'the replacement to be due');
  t.equal(next.NodeID, n1);
  const old = (await api('GET', `/tasks/${first.ID}`)).json as Task & { Status: { ContainerStatus?: { ExitCode: number } } };
  t.match(old, { DesiredState: 'shutdown', Status: { State: 'failed', Err: 'task: non-zero exit (1)', ContainerStatus: { ExitCode: 1 } } });
});

t.test('node rm: refused while ready without force; with force its certificate is refused at once', async (t) => {
  t.equal(await tlsPing(), 200, 'the certificate works before');
  const r = await api('DELETE', `/nodes/${n1}`);
  t.equal(r.status, 400);
  t.equal(msg(r), `rpc error: code = FailedPrecondition desc = node ${n1} is not down and can't be removed`);
  t.equal((await api('DELETE', `/nodes/worker-1?force=true`)).status, 200);
  t.equal((await api('GET', `/nodes/${n1}`)).status, 404);
  t.not(await tlsPing(), 200, 'refused right after');
  t.match(readFileSync(join(stateDir, 'revoked.json'), 'utf8'), serial.toUpperCase());
  // worker-2 is down: removable without force; then no worker remains and web waits.
  t.equal((await api('DELETE', `/nodes/${n2}`)).status, 200);
  await waitFor(async () => (await live('web')).every((x) => x.Status.State === 'pending' && x.Status.Err === 'no suitable node'), 'web pending');
});
