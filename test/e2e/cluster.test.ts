// Cluster end to end on real processes: one manager, two agents (each its own FUSE mount and state dir), driven
// through the runsecrets CLI and the stock docker CLI. Tasks write what they read at /run/secrets/NAME (from inside
// their own mount namespace) to world-writable temp files that we poll; no fixed sleeps, only poll deadlines.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fuseSkip } from '../helpers/env.js';
import { startManager, request, haveDocker, childEnv, type ManagerHandle, type CliResult } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { waitFor } from '../helpers/wait.js';
import { TASK_NS_ID, pidNsAlive } from '../helpers/task-ns.js';
import { askExecTarget } from '../../cli/task/agent-control.js';

const skip = fuseSkip();

interface TaskJson {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string };
}

const read = (p: string): string | null => {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return null;
  }
};

const outDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'rs-cluster-out-'));
  chmodSync(d, 0o777);
  return d;
};

async function tasksOf(m: ManagerHandle, service: string): Promise<TaskJson[]> {
  const r = await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`);
  return r.json as TaskJson[];
}

async function running(m: ManagerHandle, service: string, n: number): Promise<TaskJson[]> {
  return waitFor(`${n} running tasks of ${service}`, async () => {
    const ts = (await tasksOf(m, service)).filter((x) => x.Status.State === 'running' && x.DesiredState === 'running');
    return ts.length === n ? ts : null;
  }, { timeoutMs: 20_000 });
}

function ok(r: CliResult, what: string): CliResult {
  if (r.code !== 0) throw new Error(`${what} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return r;
}

function asNobody(args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', ...args], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

/** Whether the task whose PID namespace TASK_NS_ID named still runs. */
function alive(nsId: string | null): boolean {
  return pidNsAlive(nsId);
}

/** Destroys the process's established TCP connections to the port (ss -K); true when none is left. */
function killConnection(pid: number, port: number): boolean {
  const list = (): string[] =>
    (spawnSync('ss', ['-tnpH', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8', timeout: 3000 }).stdout ?? '')
      .split('\n').filter((l) => l.includes(`pid=${pid},`));
  const mine = list();
  if (mine.length === 0) return false;
  for (const l of mine) {
    const local = /\S+:(\d+)\s+\S+:\d+/.exec(l);
    if (local) spawnSync('ss', ['-K', '-tn', 'state', 'established', `( sport = :${local[1]} and dport = :${port} )`], { timeout: 3000 });
  }
  return list().length === 0;
}

// SIGCONT (in case a test left it stopped), SIGTERM, and SIGKILL if it has not exited within 15 s (an agent cannot
// exit while another process's mount namespace still holds its FUSE mount, e.g. a task launcher of another agent
// stuck mid-start), then unmount.
t.test('cluster: spread, isolation, swap, revoke, exit, restart policy, docker CLI, restarts', skip, async (t) => {
  // Short heartbeats keep the test quick; the manager child inherits this.
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';
  const m = await startManager({ t });
  const a = managedAgent({ managerPort: m.tcpPort, hostname: 'agent-a' });
  const b = managedAgent({ managerPort: m.tcpPort, hostname: 'agent-b' });
  const outs: string[] = [];
  const out = (): string => {
    const d = outDir();
    outs.push(d);
    return d;
  };
  const dockerConfig = mkdtempSync(join(tmpdir(), 'rs-cluster-dcfg-'));
  t.teardown(async () => {
    for (const ag of [a, b]) await stopOrKill(ag);
    await m.cleanup();
    for (const d of [a.dir, b.dir, dockerConfig, ...outs]) rmSync(d, { recursive: true, force: true });
  });
  await a.start(m.workerToken);
  await b.start(m.workerToken);
  const cli = (args: string[], input?: string): Promise<CliResult> => m.cli(args, input);
  const docker = (args: string[], input?: string): Promise<CliResult> =>
    new Promise((resolve) => {
      const c = execFile('docker', args, { env: childEnv({ DOCKER_HOST: m.dockerHost, DOCKER_CONFIG: dockerConfig }) }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
      c.stdin?.end(input);
    });
  const mountOf = (nodeId: string, nodes: Map<string, string>): string => (nodes.get(nodeId) === 'agent-a' ? a.mount : b.mount);
  const nodes = new Map(((await request(m.socket, 'GET', '/nodes')).json as { ID: string; Description: { Hostname: string } }[]).map((n) => [n.ID, n.Description.Hostname]));

  // 1. Replicas spread over the agents; each reads its secret from inside its namespace.
  const rep = out();
  ok(await cli(['secret', 'create', 'rep_pw', '-'], 'replica-secret'), 'secret create');
  ok(await cli(['service', 'create', '--name', 'rep', '--label', 'com.runsecrets.secret-update=live', '--replicas', '4', '--secret', 'rep_pw', '--detach', 'none', '/bin/sh', '-c',
    `${TASK_NS_ID}; echo $i > ${rep}/pid.$i.tmp && mv ${rep}/pid.$i.tmp ${rep}/pid.$i; while :; do cat /run/secrets/rep_pw > ${rep}/v.$i.tmp 2>/dev/null || echo GONE > ${rep}/v.$i.tmp; mv ${rep}/v.$i.tmp ${rep}/v.$i; sleep 0.05; done`]), 'service create rep');
  const repTasks = await running(m, 'rep', 4);
  await t.test('1. replicas spread; each task reads /run/secrets/NAME', async (t) => {
    const perNode = new Map<string, number>();
    for (const x of repTasks) perNode.set(nodes.get(x.NodeID) ?? '?', (perNode.get(nodes.get(x.NodeID) ?? '?') ?? 0) + 1);
    t.same(Object.fromEntries(perNode), { 'agent-a': 2, 'agent-b': 2 }, '4 replicas over 2 agents: 2 each');
    t.equal(readdirSync(a.mount).length, 2, 'agent-a mount: 2 task folders');
    t.equal(readdirSync(b.mount).length, 2, 'agent-b mount: 2 task folders');
    const values = await waitFor('4 tasks reading their secret', () => {
      const vs = readdirSync(rep).filter((f) => /^v\.\d+$/.test(f)).map((f) => read(join(rep, f)));
      return vs.length === 4 && vs.every((v) => v === 'replica-secret') ? vs : null;
    }, { timeoutMs: 10_000 });
    t.equal(values.length, 4, 'every replica read the bytes at /run/secrets/rep_pw');
  });

  // 2. Isolation: another task on the same host, and another user of the host.
  await t.test('2. another task on the host and other users cannot read it', async (t) => {
    const victim = repTasks.find((x) => nodes.get(x.NodeID) === 'agent-a')!;
    const victimDir = join(a.mount, victim.ID);
    const iso = out();
    ok(await cli(['service', 'create', '--name', 'nosecret', '--constraint', 'node.hostname==agent-a', '--detach', 'none', '/bin/sh', '-c',
      `{ ls -A /run/secrets; echo END; } > ${iso}/ls.tmp; mv ${iso}/ls.tmp ${iso}/ls; ` +
      `if cat /run/secrets/rep_pw >/dev/null 2>&1; then echo READ; else echo NOFILE; fi > ${iso}/own; ` +
      `if ls ${victimDir} >/dev/null 2>&1 || cat ${victimDir}/rep_pw >/dev/null 2>&1; then echo VISIBLE; else echo HIDDEN; fi > ${iso}/other; sleep 1d`]), 'service create nosecret');
    await running(m, 'nosecret', 1);
    await waitFor('the second task\'s report', () => read(join(iso, 'other')));
    t.equal(read(join(iso, 'ls')), 'END', "the second task's /run/secrets is empty");
    t.equal(read(join(iso, 'own')), 'NOFILE', 'no rep_pw in its /run/secrets');
    t.equal(read(join(iso, 'other')), 'HIDDEN', "the first task's folder is not visible inside it");
    const cat = asNobody(['cat', join(victimDir, 'rep_pw')]);
    t.not(cat.code, 0, 'uid 65534: cat fails');
    t.match(cat.stderr, /Permission denied/, `cat: ${cat.stderr.trim()}`);
    const ls = asNobody(['ls', victimDir]);
    t.not(ls.code, 0, 'uid 65534: ls fails');
    t.match(ls.stderr, /Permission denied/, `ls: ${ls.stderr.trim()}`);
    ok(await cli(['service', 'rm', 'nosecret']), 'service rm nosecret');
  });

  // 3 + 4. The atomic swap in one update, then a live revoke within a second; same pid throughout.
  const sw = out();
  const OLD = 'old-' + 'o'.repeat(3000);
  const NEW = 'NEW-' + 'N'.repeat(1700);
  ok(await cli(['secret', 'create', 'sw_old', '-'], OLD), 'secret create sw_old');
  ok(await cli(['secret', 'create', 'sw_new', '-'], NEW), 'secret create sw_new');
  ok(await cli(['service', 'create', '--name', 'swap', '--label', 'com.runsecrets.secret-update=live', '--constraint', 'node.hostname==agent-b', '--secret', 'source=sw_old,target=same', '--detach', 'none', '/bin/sh', '-c',
    `${TASK_NS_ID}; echo $i > ${sw}/pid; while :; do if v=$(cat /run/secrets/same 2>/dev/null); then ` +
    `case "$v" in "${OLD}") s=OLD ;; "${NEW}") s=NEW ;; *) s=MIXED; echo "MIXED $(printf %s "$v" | wc -c)" >> ${sw}/bad ;; esac; ` +
    `else s=GONE; [ -f ${sw}/armed ] && echo MISSING >> ${sw}/bad; fi; echo $s > ${sw}/s.tmp; mv ${sw}/s.tmp ${sw}/s; sleep 0.005; done`]), 'service create swap');
  await running(m, 'swap', 1);
  await t.test('3. atomic swap: same path, new bytes, never missing or mixed', async (t) => {
    await waitFor('the swap task reading the old bytes', () => read(join(sw, 's')) === 'OLD', { timeoutMs: 10_000 });
    const pid = read(join(sw, 'pid'));
    spawnSync('touch', [join(sw, 'armed')]);
    ok(await cli(['service', 'update', '--secret-rm', 'sw_old', '--secret-add', 'source=sw_new,target=same', '--detach', 'swap']), 'service update (swap)');
    await waitFor('the new bytes inside the running task', () => read(join(sw, 's')) === 'NEW', { timeoutMs: 5_000 });
    spawnSync('rm', ['-f', join(sw, 'armed')]);
    t.equal(read(join(sw, 'bad')), null, `no missing file and no mixed content during the swap: ${read(join(sw, 'bad')) ?? ''}`);
    t.equal(read(join(sw, 'pid')), pid, 'same pid');
    t.ok(alive(pid), 'the task process is still running');
  });

  await t.test('4. live revoke: gone inside the running task within 1 s', async (t) => {
    const pid = read(join(sw, 'pid'));
    ok(await cli(['service', 'update', '--secret-rm', 'sw_new', '--detach', 'swap']), 'service update (revoke)');
    await waitFor('the file gone inside the running task', () => read(join(sw, 's')) === 'GONE', { timeoutMs: 1000, intervalMs: 5 });
    t.pass('gone within the 1 s poll deadline');
    t.equal(read(join(sw, 'pid')), pid, 'same pid: not restarted');
    ok(await cli(['service', 'rm', 'swap']), 'service rm swap');
  });

  // 5. Task exit removes the folder; the restart policy leaves history rows in service ps (ours and docker's).
  await t.test('5. task exit; restart policy history in service ps', async (t) => {
    const ex = out();
    ok(await cli(['secret', 'create', 'ex_pw', '-'], 'exit-secret'), 'secret create ex_pw');
    ok(await cli(['service', 'create', '--name', 'oneshot', '--secret', 'ex_pw', '--restart-condition', 'none', '--detach', 'none', '/bin/sh', '-c',
      `cat /run/secrets/ex_pw > ${ex}/v.tmp; mv ${ex}/v.tmp ${ex}/v`]), 'service create oneshot');
    await waitFor('the one-shot task to read its secret', () => read(join(ex, 'v')) === 'exit-secret', { timeoutMs: 10_000 });
    const done = await waitFor('the one-shot task complete', async () => (await tasksOf(m, 'oneshot')).find((x) => x.Status.State === 'complete'), { timeoutMs: 10_000 });
    await waitFor('its folder gone from the mount', () => !existsSync(join(a.mount, done.ID)) && !existsSync(join(b.mount, done.ID)), { timeoutMs: 5_000 });
    t.pass(`task ${done.ID} exited and its folder is gone`);

    ok(await cli(['service', 'create', '--name', 'flaky', '--restart-condition', 'on-failure', '--restart-max-attempts', '2', '--restart-delay', '100ms',
      '--detach', 'none', '/bin/sh', '-c', 'exit 3']), 'service create flaky');
    await waitFor('3 failed tasks', async () => (await tasksOf(m, 'flaky')).filter((x) => x.Status.State === 'failed').length === 3, { timeoutMs: 15_000 });
    const ps = ok(await cli(['service', 'ps', '--no-trunc', 'flaky']), 'service ps').stdout;
    const rows = ps.split('\n').slice(1).filter((l) => l.trim() !== '');
    t.equal(rows.length, 3, `three rows:\n${ps}`);
    t.equal(rows.filter((l) => / \\_ /.test(l)).length, 2, 'two history rows ( \\_ )');
    if (haveDocker()) {
      const dps = await docker(['service', 'ps', '--no-trunc', 'flaky']);
      t.equal(dps.code, 0, `docker service ps: ${dps.stderr}`);
      const cols = (s: string): string[] => s.split('\n').slice(1).filter((l) => l.trim() !== '').map((l) => l.split(/\s{2,}/).slice(0, 2).join('|'));
      t.same(cols(dps.stdout), cols(ps), `docker service ps gives the same rows:\n${dps.stdout}`);
    }
    ok(await cli(['service', 'rm', 'oneshot', 'flaky']), 'service rm');
  });

  // 6. The stock docker CLI flow.
  await t.test('6. docker CLI: secret create, service create, secret rm refused, service rm, secret rm', { skip: haveDocker() ? false : 'no docker CLI' }, async (t) => {
    const c = await docker(['secret', 'create', 'my_secret_data', '-'], 'docker-bytes');
    t.equal(c.code, 0, `docker secret create: ${c.stderr}`);
    const s = await docker(['service', 'create', '--name', 'redis', '--secret', 'my_secret_data', '--no-resolve-image', '--detach', 'alpine', 'sleep', '1d']);
    t.equal(s.code, 0, `docker service create: ${s.stderr}`);
    const [task] = await running(m, 'redis', 1);
    const mount = mountOf(task!.NodeID, nodes);
    t.equal(read(join(mount, task!.ID, 'my_secret_data')), 'docker-bytes', 'the task folder holds my_secret_data');
    // The task's process, as its agent names it for `task exec`; read through its root in a child process with a time
    // limit (a synchronous read on some other agent's FUSE mount could block).
    const agent = task!.NodeID && nodes.get(task!.NodeID) === 'agent-a' ? a : b;
    const seen = await waitFor('the sleep task reading /run/secrets/my_secret_data in its namespace', async () => {
      const { pid } = await askExecTarget(agent.socket, task!.ID);
      const r = spawnSync('cat', [`/proc/${pid}/root/run/secrets/my_secret_data`], { encoding: 'utf8', timeout: 3000 });
      return r.status === 0 ? r.stdout.trim() : null;
    });
    t.equal(seen, 'docker-bytes', '/run/secrets/my_secret_data inside the task');
    const refused = await docker(['secret', 'rm', 'my_secret_data']);
    t.not(refused.code, 0, 'docker secret rm refused while in use');
    t.match(refused.stderr, /is in use by the following service: redis/, `Docker's text: ${refused.stderr.trim()}`);
    t.equal((await docker(['service', 'rm', 'redis'])).code, 0, 'docker service rm redis');
    await waitFor('the redis task folder gone', () => !existsSync(join(mount, task!.ID)), { timeoutMs: 10_000 });
    const rm = await docker(['secret', 'rm', 'my_secret_data']);
    t.equal(rm.code, 0, `docker secret rm works: ${rm.stderr}`);
  });

  // 7. A manager restart restarts no task; a change made while an agent is cut off arrives after it reconnects.
  await t.test('7. manager restart keeps tasks; change made while an agent is cut off applied after reconnect', async (t) => {
    const pids = () => readdirSync(rep).filter((f) => /^pid\.\d+$/.test(f)).map((f) => read(join(rep, f))).sort();
    const before = pids();
    const ids = repTasks.map((x) => x.ID).sort();
    t.ok(before.every(alive), 'replica processes running');
    process.env.RUNSECRETS_HEARTBEAT_MS = '3000'; // the restarted manager inherits it (see the cut-off below)
    // Counted from here: a reconnect earlier in the file must not pass for one to the restarted manager.
    const aFrom = a.logs().length;
    const bFrom = b.logs().length;
    await m.restart();
    await waitFor('both agents reconnected to the restarted manager', () => {
      const n = (l: Record<string, unknown>): boolean => l.msg === 'connected to the manager';
      return a.logs().slice(aFrom).some(n) && b.logs().slice(bFrom).some(n);
    }, { timeoutMs: 15_000 });
    const after = await running(m, 'rep', 4);
    t.same(after.map((x) => x.ID).sort(), ids, 'same task IDs after the manager restart');
    t.same(pids(), before, 'no new task processes');
    t.ok(before.every(alive), 'the same pids still running');

    // Cut agent-a off: SIGSTOP freezes it (no reads, no heartbeats, no answers) while the change is made, then
    // SIGCONT. The manager was restarted with 3 s heartbeats, so the node is not declared down (9 s) meanwhile: a down
    // node would lose its tasks to agent-b, as in Docker, which is not what this checks.
    ok(await cli(['secret', 'create', 'rep_pw2', '-'], 'after-the-cut'), 'secret create rep_pw2');
    const aPid = a.proc!.pid!;
    const from = a.logs().length;
    let killed = false;
    process.kill(aPid, 'SIGSTOP');
    try {
      ok(await cli(['service', 'update', '--secret-rm', 'rep_pw', '--secret-add', 'source=rep_pw2,target=rep_pw', '--detach', 'rep']), 'service update while agent-a is cut off');
      await waitFor('agent-b to apply it meanwhile', () => {
        return repTasks.filter((x) => nodes.get(x.NodeID) === 'agent-b').every((x) => read(join(b.mount, x.ID, 'rep_pw')) === 'after-the-cut');
      }, { timeoutMs: 5_000 });
      // And cut its session for good: destroy agent-a's TCP connection to the manager (ss -K), so that it has to
      // reconnect (and resync) once it runs again.
      killed = killConnection(aPid, m.tcpPort);
    } finally {
      process.kill(aPid, 'SIGCONT');
    }
    if (killed) {
      await a.waitLog((l) => l.msg === 'connected to the manager', from, 10_000);
      t.pass('agent-a reconnected after the cut');
    } else {
      t.comment('ss -K could not destroy the connection here: agent-a was only frozen, not disconnected');
    }
    const aTasks = repTasks.filter((x) => nodes.get(x.NodeID) === 'agent-a');
    await waitFor("agent-a's tasks hold the new bytes", () => aTasks.every((x) => read(join(a.mount, x.ID, 'rep_pw')) === 'after-the-cut'), { timeoutMs: 5_000 });
    await waitFor('every replica reading the new bytes', () => {
      const vs = readdirSync(rep).filter((f) => /^v\.\d+$/.test(f)).map((f) => read(join(rep, f)));
      return vs.length === 4 && vs.every((v) => v === 'after-the-cut');
    }, { timeoutMs: 5_000 });
    t.same(pids(), before, 'still the same task processes');
  });
});
