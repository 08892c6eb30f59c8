// Agents know every manager (issue 11 item 3): --manager repeated, the welcome's managers list kept in the agent's
// state dir, and a move to another manager when theirs fails, with the same resync, tasks keeping their files.
import t from 'tap';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fuseSkip } from '../helpers/env.js';
import { startManager, request, type CliResult, type ManagerHandle } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { freePort } from '../helpers/etcd-cluster.js';
import { waitFor } from '../helpers/wait.js';
import { MANAGERS_FILE } from '../../agent/session/manager-list.js';

const skip = fuseSkip();
const READER = join(import.meta.dirname, '../fixtures/secret-reader.sh');

function ok(r: CliResult, what: string): CliResult {
  if (r.code !== 0) throw new Error(`${what} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return r;
}

async function runningTaskId(m: ManagerHandle, service: string): Promise<string> {
  return waitFor(`a running task of ${service}`, async () => {
    const ts = (await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`)).json as Array<{ ID: string; Status: { State: string } }>;
    return ts.find((x) => x.Status.State === 'running')?.ID ?? null;
  }, { timeoutMs: 30_000 });
}

t.test('an agent given two managers, the first down, joins through the second', skip, async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';
  const m = await startManager({ t });
  const down = await freePort(); // nothing listens there
  const a = managedAgent({ managerPort: down, hostname: 'fo-join', extraArgs: ['--manager', `127.0.0.1:${m.tcpPort}`] });
  t.teardown(async () => {
    await stopOrKill(a);
    rmSync(a.dir, { recursive: true, force: true });
  });
  await a.start(m.workerToken);
  t.ok(a.logs().some((l) => l.msg === 'join through this manager failed: trying the next' && l.manager === `127.0.0.1:${down}`), 'the first manager was tried and failed');
  const node = await waitFor('the node ready', async () => {
    const ns = (await request(m.socket, 'GET', '/nodes')).json as Array<{ Description: { Hostname: string }; Status: { State: string } }>;
    return ns.find((n) => n.Description.Hostname === 'fo-join' && n.Status.State === 'ready') ?? null;
  });
  t.ok(node, 'joined through the second manager, and ready');
  const kept = JSON.parse(readFileSync(join(a.stateDir, MANAGERS_FILE), 'utf8')) as { managers: Array<{ addr: string; nodeId?: string }> };
  t.ok(kept.managers.length > 0 && kept.managers.every((e) => typeof e.addr === 'string'), 'the cluster\'s manager list is kept in the state dir');
});

t.test('manager A stops, B serves its state on another port: the agent moves to B by the kept list; the task keeps its file', skip, async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';
  const portB = await freePort();
  // A tells its agents about B (--peer-manager) before B exists.
  const ma = await startManager({ runArgs: ['--peer-manager', `127.0.0.1:${portB}`] });
  let mb: ManagerHandle | null = null;
  const a = managedAgent({ managerPort: ma.tcpPort, hostname: 'fo-move' });
  const out = join(a.dir, 'reads');
  t.teardown(async () => {
    await stopOrKill(a);
    await mb?.cleanup();
    await ma.cleanup();
    rmSync(a.dir, { recursive: true, force: true });
  });
  await a.start(ma.workerToken);
  const keptPath = join(a.stateDir, MANAGERS_FILE);
  await waitFor('the manager list kept', () => existsSync(keptPath));
  const kept = JSON.parse(readFileSync(keptPath, 'utf8')) as { managers: Array<{ addr: string; nodeId?: string }> };
  t.ok(kept.managers.some((e) => e.addr === `127.0.0.1:${portB}`), 'the kept list names B, as A announced it');
  t.ok(kept.managers.some((e) => typeof e.nodeId === 'string' && e.nodeId !== ''), "and A's own entry carries its node ID");

  ok(await ma.cli(['secret', 'create', 'fo_pw', '-'], 'fo-secret-bytes'), 'secret create');
  ok(await ma.cli(['service', 'create', '--name', 'fo', '--secret', 'fo_pw', '--detach', 'none', 'sh', READER, 'fo_pw', 'fo-secret-bytes', out]), 'service create');
  const taskId = await runningTaskId(ma, 'fo');
  const reads = (): { n: number; f: number } => {
    const [n, f] = (existsSync(out) ? readFileSync(out, 'utf8') : '0 0').trim().split(' ').map(Number);
    return { n: n ?? 0, f: f ?? 0 };
  };
  await waitFor('the task reading its file', () => reads().n >= 5, { timeoutMs: 15_000 });

  const from = a.logs().length;
  t.equal(await ma.stop(), 0, 'A stopped');
  const stoppedAt = Date.now();
  mb = await startManager({ stateDir: ma.stateDir, listenPort: portB });
  t.equal(mb.tcpPort, portB, 'B listens on the announced port');
  const moved = await a.waitLog((l) => l.msg === 'connected to the manager' && l.manager === `127.0.0.1:${portB}`, from, 30_000).catch((err: unknown) => {
    t.comment(`agent log since A stopped:\n${a.logs().slice(from).map((l) => JSON.stringify(l)).join('\n')}`);
    throw err;
  });
  const movedAt = Date.parse(String(moved.time));
  const listening = mb
    .logs()
    .split('\n')
    .map((l) => {
      try {
        return JSON.parse(l) as { msg?: string; time?: string };
      } catch {
        return {};
      }
    })
    .find((l) => l.msg === 'manager listening on TCP with mutual TLS');
  const bUpAt = Date.parse(String(listening?.time));
  t.comment(`the agent was in session with B ${movedAt - stoppedAt} ms after A stopped, ${movedAt - bUpAt} ms after B listened`);
  t.equal(await runningTaskId(mb, 'fo'), taskId, 'the same task runs, as B sees it after the resync');
  const before = reads().n;
  await waitFor('more reads after the move', () => reads().n >= before + 10, { timeoutMs: 15_000 });
  const r = reads();
  t.comment(`task reads: ${r.n} ok, ${r.f} failed`);
  t.equal(r.f, 0, 'the task read its file throughout: no failed read');
});
