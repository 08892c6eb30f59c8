// /metrics, /healthz and /readyz (--metrics-listen) on a real manager, a real managed agent and a real standalone
// agent: each scrape is parsed as strict Prometheus text (test/helpers/prom-text.ts), the families exist with the
// right types, and values move after a secret create, a service create, a file read, a refused request and a bad
// manifest. No secret name or byte ever appears in a scrape.
import t, { type Test } from 'tap';
import http from 'node:http';
import https from 'node:https';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseSkipReason } from '../helpers/env.js';
import { request, runCli, startManager, waitFor, type ManagerHandle } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { startAgent, forceUnmount } from '../helpers/agent.js';
import { parsePrometheusText, sampleValue, type Family } from '../helpers/prom-text.js';

const SECRET_NAME = 'metrics_probe_db_pw';
const SECRET_BYTES = 'metrics-probe-bytes-7f3a';

interface Scrape {
  status: number;
  type: string;
  text: string;
}

function get(port: number, path: string): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text }));
    });
    req.on('error', reject);
  });
}

async function scrape(t: Test, port: number): Promise<Map<string, Family>> {
  const r = await get(port, '/metrics');
  t.equal(r.status, 200, '/metrics answers 200');
  t.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8', 'the exposition content type');
  t.notOk(r.text.includes(SECRET_NAME), 'no secret name in the metrics');
  t.notOk(r.text.includes(SECRET_BYTES), 'no secret bytes in the metrics');
  return parsePrometheusText(r.text);
}

function expectFamilies(t: Test, fams: Map<string, Family>, expected: Record<string, Family['type']>): void {
  for (const [name, type] of Object.entries(expected)) t.equal(fams.get(name)?.type, type, `${name} is a ${type}`);
}

function portFromLog(text: string): number | null {
  for (const line of text.split('\n')) {
    if (!line.includes('metrics, healthz and readyz listening')) continue;
    const port = (JSON.parse(line) as { port?: unknown }).port;
    if (typeof port === 'number') return port;
  }
  return null;
}

t.test('the strict parser refuses what Prometheus would', async (t) => {
  t.throws(() => parsePrometheusText('x 1\n'), /without a HELP\/TYPE family/);
  t.throws(() => parsePrometheusText('# HELP x h\n# TYPE x gauge\nx{a="1} 1\n'), /unterminated/);
  t.throws(() => parsePrometheusText('# HELP x h\n# TYPE x gauge\nx 1\nx 2\n'), /twice/);
  t.throws(() => parsePrometheusText('# HELP x h\n# TYPE x gauge\nx one\n'), /invalid value/);
  t.throws(() => parsePrometheusText('# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'), /decrease/);
  t.throws(() => parsePrometheusText('# HELP x h\n# TYPE x gauge\nx 1'), /newline/);
  t.equal(parsePrometheusText('# HELP x h\n# TYPE x counter\nx{a="q\\"x"} 3\n').get('x')?.samples[0]?.labels.a, 'q"x');
});

const skip = fuseSkipReason();

t.test('manager and managed agent: families, types, and values that move', skip ? { skip } : {}, async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '300'; // heartbeats (and their round trips) within the test's time
  t.teardown(() => void delete process.env.RUNSECRETS_HEARTBEAT_MS);
  const m: ManagerHandle = await startManager({ t, runArgs: ['--metrics-listen', '127.0.0.1:0'] });
  const mport = await waitFor(() => portFromLog(m.logs()), 'the manager metrics port');
  t.equal((await get(mport, '/healthz')).status, 200, 'manager /healthz');
  t.same(await get(mport, '/readyz').then((r) => [r.status, r.text]), [200, 'ready\n'], 'manager /readyz');
  t.equal((await get(mport, '/nope')).status, 404);

  let fams = await scrape(t, mport);
  expectFamilies(t, fams, {
    runsecrets_manager_locked: 'gauge',
    runsecrets_manager_secrets: 'gauge',
    runsecrets_manager_configs: 'gauge',
    runsecrets_manager_services: 'gauge',
    runsecrets_manager_tasks: 'gauge',
    runsecrets_manager_nodes: 'gauge',
    runsecrets_manager_sessions: 'gauge',
    runsecrets_manager_heartbeat_age_max_seconds: 'gauge',
    runsecrets_manager_heartbeat_period_seconds: 'gauge',
    runsecrets_manager_store_commit_seconds: 'histogram',
    runsecrets_manager_store_committed_writes_total: 'counter',
    runsecrets_manager_refused_requests_total: 'counter',
    process_cpu_seconds_total: 'counter',
    process_resident_memory_bytes: 'gauge',
    process_open_fds: 'gauge',
  });
  t.equal(sampleValue(fams, 'runsecrets_manager_secrets'), 0, 'no secrets yet');
  t.equal(sampleValue(fams, 'runsecrets_manager_locked'), 0);
  t.equal(sampleValue(fams, 'runsecrets_manager_heartbeat_period_seconds'), 0.3);
  t.ok((sampleValue(fams, 'process_resident_memory_bytes') ?? 0) > 10e6, 'RSS in bytes');
  t.ok((sampleValue(fams, 'process_open_fds') ?? 0) > 3, 'open fds');
  const commitsBefore = sampleValue(fams, 'runsecrets_manager_store_commit_seconds_count') ?? 0;

  const ag = managedAgent({ managerPort: m.tcpPort, hostname: 'metrics-node', extraArgs: ['--metrics-listen', '127.0.0.1:0'] });
  t.teardown(() => ag.cleanup());
  await ag.start(m.workerToken);
  const aport = await waitFor(() => {
    const l = ag.logs().find((x) => x.msg === 'metrics, healthz and readyz listening');
    return typeof l?.port === 'number' ? l.port : null;
  }, 'the agent metrics port');
  await waitFor(async () => (await get(aport, '/readyz')).status === 200, 'agent /readyz 200 after its first state');
  t.equal((await get(aport, '/healthz')).status, 200, 'agent /healthz');

  const sec = await request(m.socket, 'POST', '/secrets/create', { Name: SECRET_NAME, Labels: {}, Data: Buffer.from(SECRET_BYTES).toString('base64') });
  t.equal(sec.status, 201);
  const secretId = (sec.json as { ID: string }).ID;
  const svc = await request(m.socket, 'POST', '/services/create', {
    Name: 'metrics-web',
    TaskTemplate: {
      ContainerSpec: { Image: 'none', Command: ['sleep', '1d'], Secrets: [{ SecretID: secretId, SecretName: SECRET_NAME, File: { Name: 'pw', UID: '0', GID: '0', Mode: 0o444 } }] },
    },
    Mode: { Replicated: { Replicas: 1 } },
  });
  t.equal(svc.status, 201, svc.text);

  fams = await waitFor(async () => {
    const f = parsePrometheusText((await get(mport, '/metrics')).text);
    return sampleValue(f, 'runsecrets_manager_tasks', { state: 'running' }) === 1 ? f : null;
  }, 'the manager counting a running task');
  t.equal(sampleValue(fams, 'runsecrets_manager_secrets'), 1, 'secrets: 1 after create');
  t.equal(sampleValue(fams, 'runsecrets_manager_services'), 1, 'services: 1 after create');
  t.equal(sampleValue(fams, 'runsecrets_manager_nodes', { state: 'ready' }), 1, 'one ready node');
  t.equal(sampleValue(fams, 'runsecrets_manager_sessions'), 1, 'one session');
  t.ok((sampleValue(fams, 'runsecrets_manager_store_commit_seconds_count') ?? 0) > commitsBefore, 'store commits observed');
  t.ok((sampleValue(fams, 'runsecrets_manager_heartbeat_age_max_seconds') ?? 99) < 5, 'the agent was heard from recently');

  // A request over TCP without a client certificate is refused: counted by reason.
  await new Promise<void>((resolve) => {
    const req = https.get({ host: '127.0.0.1', port: m.tcpPort, path: '/secrets', rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => resolve());
  });
  fams = await scrape(t, mport);
  t.ok((sampleValue(fams, 'runsecrets_manager_refused_requests_total', { reason: 'no-cert' }) ?? 0) >= 1, 'a refusal counted as no-cert');

  // The agent: the task's file read through the mount moves the FUSE counters.
  let afams = await scrape(t, aport);
  expectFamilies(t, afams, {
    runsecrets_agent_info: 'gauge',
    runsecrets_agent_task_folders: 'gauge',
    runsecrets_agent_inodes: 'gauge',
    runsecrets_agent_tasks: 'gauge',
    runsecrets_agent_session_connected: 'gauge',
    runsecrets_agent_session_connects_total: 'counter',
    runsecrets_agent_heartbeat_age_seconds: 'gauge',
    runsecrets_agent_heartbeat_rtt_seconds: 'histogram',
    runsecrets_agent_assignment_apply_seconds: 'histogram',
    runsecrets_agent_fuse_operations_total: 'counter',
    runsecrets_agent_change_publish_seconds: 'histogram',
    runsecrets_agent_refused_total: 'counter',
    process_resident_memory_bytes: 'gauge',
  });
  t.equal(sampleValue(afams, 'runsecrets_agent_info', { mode: 'managed' }), 1);
  t.equal(sampleValue(afams, 'runsecrets_agent_session_connected'), 1);
  t.equal(sampleValue(afams, 'runsecrets_agent_task_folders'), 1, 'one task folder');
  t.equal(sampleValue(afams, 'runsecrets_agent_tasks', { state: 'running' }), 1, 'one running task');
  t.ok((sampleValue(afams, 'runsecrets_agent_change_publish_seconds_count', { change: 'grant' }) ?? 0) >= 1, 'a grant published');
  t.ok((sampleValue(afams, 'runsecrets_agent_assignment_apply_seconds_count') ?? 0) >= 1, 'assignments applied');
  const readsBefore = sampleValue(afams, 'runsecrets_agent_fuse_operations_total', { op: 'read' }) ?? 0;
  const lookupsBefore = sampleValue(afams, 'runsecrets_agent_fuse_operations_total', { op: 'lookup' }) ?? 0;
  const tasks = (await request(m.socket, 'GET', '/tasks')).json as Array<{ ID: string; Status: { State: string } }>;
  const task = tasks.find((x) => x.Status.State === 'running')!;
  t.equal(readFileSync(join(ag.mount, task.ID, 'pw'), 'utf8'), SECRET_BYTES, 'the file read through the mount');
  afams = await waitFor(async () => {
    const f = parsePrometheusText((await get(aport, '/metrics')).text);
    return (sampleValue(f, 'runsecrets_agent_heartbeat_rtt_seconds_count') ?? 0) >= 1 ? f : null;
  }, 'a heartbeat round trip');
  t.ok((sampleValue(afams, 'runsecrets_agent_fuse_operations_total', { op: 'read' }) ?? 0) > readsBefore, 'FUSE reads counted');
  t.ok((sampleValue(afams, 'runsecrets_agent_fuse_operations_total', { op: 'lookup' }) ?? 0) > lookupsBefore, 'FUSE lookups counted');

  // A revoke (service removed) shows as a revoke publish.
  t.equal((await request(m.socket, 'DELETE', '/services/metrics-web')).status, 200);
  await waitFor(async () => {
    const f = parsePrometheusText((await get(aport, '/metrics')).text);
    return (sampleValue(f, 'runsecrets_agent_change_publish_seconds_count', { change: 'revoke' }) ?? 0) >= 1 && sampleValue(f, 'runsecrets_agent_task_folders') === 0;
  }, 'the revoke published and the folder gone');
  t.pass('revoke publish counted');
});

t.test('standalone agent: metrics, health and a refused manifest', skip ? { skip } : {}, async (t) => {
  const a = await startAgent({ extraArgs: ['--metrics-listen', '127.0.0.1:0'] });
  t.teardown(async () => {
    await a.stop();
    forceUnmount(a.mount);
  });
  const port = await waitFor(() => {
    const l = a.logs().find((x) => x.msg === 'metrics, healthz and readyz listening');
    return typeof l?.port === 'number' ? l.port : null;
  }, 'the agent metrics port');
  t.equal((await get(port, '/readyz')).status, 200);
  writeFileSync(join(a.tasksDir, 'src.txt'), SECRET_BYTES);
  writeFileSync(join(a.tasksDir, 'web.yaml'), 'secrets:\n  - file: ./src.txt\n    target: pw\n');
  await waitFor(() => existsSync(join(a.mount, 'web', 'pw')), 'the task file');
  t.equal(readFileSync(join(a.mount, 'web', 'pw'), 'utf8'), SECRET_BYTES);
  writeFileSync(join(a.tasksDir, 'bad.yaml'), 'secrets: 12\n');
  const fams = await waitFor(async () => {
    const f = parsePrometheusText((await get(port, '/metrics')).text);
    return (sampleValue(f, 'runsecrets_agent_refused_total', { reason: 'manifest' }) ?? 0) >= 1 ? f : null;
  }, 'the refused manifest counted');
  t.equal(sampleValue(fams, 'runsecrets_agent_info', { mode: 'standalone' }), 1);
  t.equal(sampleValue(fams, 'runsecrets_agent_task_folders'), 1);
  t.ok((sampleValue(fams, 'runsecrets_agent_fuse_operations_total', { op: 'read' }) ?? 0) >= 1, 'reads counted');
  t.notOk(fams.has('runsecrets_agent_session_connected'), 'no session metrics without a manager');
  const text = (await get(port, '/metrics')).text;
  t.notOk(text.includes(SECRET_BYTES), 'no secret bytes');
  t.notOk(text.includes('web'), 'no task name');
});

t.test('a bad --metrics-listen stops the start with a clear error', async (t) => {
  const m = await startManager({ t, tcp: false });
  await m.stop();
  for (const [addr, re] of [
    ['nope', /invalid --metrics-listen \\*"nope\\*": expected HOST:PORT, e.g. 127.0.0.1:9477/],
    ['127.0.0.1:99999', /invalid --metrics-listen \\*"127.0.0.1:99999\\*"/],
  ] as const) {
    const r = await runCli(['manager', 'run', '--state-dir', m.stateDir, '--socket', join(m.dir, 'other.sock'), '--listen', 'none', '--metrics-listen', addr]);
    t.equal(r.code, 1, `${addr}: exit 1`);
    t.match(r.stderr, re, `${addr}: names the problem`);
  }
});
