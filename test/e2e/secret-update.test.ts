// Docker's secret rotation recipe with the stock docker CLI against a manager and one agent (process runtime), in
// the three secret-update modes (docs/updates.md): by default the update replaces the tasks (new task IDs) in
// UpdateConfig's order with the CLI's progress display, and `service rollback` brings the previous spec back;
// `live` keeps task IDs and processes; `signal:SIGHUP` signals the task once the new bytes are readable. The tasks
// (test/fixtures/secret-update-task.sh) note what they read at start and at each SIGHUP.
import t from 'tap';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fuseSkip } from '../helpers/env.js';
import { startManager, request, haveDocker, childEnv, type ManagerHandle, type CliResult } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { waitFor } from '../helpers/wait.js';

const TASK = join(import.meta.dirname, '../fixtures/secret-update-task.sh');
const skip = fuseSkip().skip ?? (haveDocker() ? false : 'needs the docker CLI');

interface TaskJson {
  ID: string;
  Slot?: number;
  CreatedAt: string;
  DesiredState: string;
  Status: { State: string };
}

function ok(r: CliResult, what: string): CliResult {
  if (r.code !== 0) throw new Error(`${what} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return r;
}

const logOf = (dir: string): string[][] => {
  try {
    return readFileSync(join(dir, 'log'), 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' '));
  } catch {
    return [];
  }
};

async function liveTasks(m: ManagerHandle, service: string, n: number): Promise<TaskJson[]> {
  return waitFor(`${n} running tasks of ${service}`, async () => {
    const r = await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service], 'desired-state': ['running'] }))}`);
    const ts = (r.json as TaskJson[]).filter((x) => x.Status.State === 'running');
    return ts.length === n ? ts.sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0)) : null;
  }, { timeoutMs: 30_000 });
}

t.test('secret rotation: replace (default), live, signal:SIGHUP; rollback', skip ? { skip } : {}, async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';
  const m = await startManager({ t });
  const a = managedAgent({ managerPort: m.tcpPort, hostname: 'upd-a' });
  const dirs: string[] = [];
  const out = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'rs-upd-out-'));
    chmodSync(d, 0o777);
    dirs.push(d);
    return d;
  };
  const dockerConfig = mkdtempSync(join(tmpdir(), 'rs-upd-dcfg-'));
  t.teardown(async () => {
    await stopOrKill(a);
    await m.cleanup();
    for (const d of [a.dir, dockerConfig, ...dirs]) rmSync(d, { recursive: true, force: true });
  });
  await a.start(m.workerToken);
  const docker = (args: string[], input?: string): Promise<CliResult> =>
    new Promise((resolve) => {
      const c = execFile('docker', args, { env: childEnv({ DOCKER_HOST: m.dockerHost, DOCKER_CONFIG: dockerConfig }), timeout: 120_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
      c.stdin?.end(input);
    });
  ok(await docker(['secret', 'create', 'pw_v1', '-'], 'one'), 'secret create pw_v1');
  ok(await docker(['secret', 'create', 'pw_v2', '-'], 'two'), 'secret create pw_v2');
  const rotate = ['--secret-rm', 'pw_v1', '--secret-add', 'source=pw_v2,target=pw'];

  await t.test('default: tasks replaced one slot at a time with progress, then rolled back', async (t) => {
    const dir = out();
    ok(await docker(['service', 'create', '--name', 'rot', '--replicas', '2', '--update-parallelism', '1', '--update-monitor', '1s',
      '--rollback-parallelism', '0', '--rollback-monitor', '1s', '--secret', 'source=pw_v1,target=pw', '--detach', 'none', '/bin/sh', TASK, dir, 'pw']), 'service create rot');
    const before = await liveTasks(m, 'rot', 2);
    await waitFor('both tasks started', () => logOf(dir).length === 2, { timeoutMs: 10_000 });
    t.same(logOf(dir).map((l) => l[2]), ['one', 'one'], 'both read the first secret');

    const up = ok(await docker(['service', 'update', ...rotate, 'rot']), 'service update (rotate), with progress');
    const lines = up.stdout.split(/\r|\n/).map((l) => l.trim()).filter(Boolean);
    t.ok(lines.includes('rot'), 'the service name first');
    // The CLI without a terminal prints each state change on its own line (Docker's own output for the same).
    const overall = lines.filter((l) => l.startsWith('overall progress: ')).map((l) => l.replace(/\s+$/, ''));
    t.same([overall[0], overall.at(-1)], ['overall progress: 0 out of 2 tasks', 'overall progress: 2 out of 2 tasks'], `progress from 0 to 2: ${up.stdout}`);
    t.ok(overall.includes('overall progress: 1 out of 2 tasks'), 'one slot after the other (Parallelism 1)');
    t.ok(lines.includes('1/2:') && lines.includes('2/2:'), 'one line per slot');
    t.notOk(lines.some((l) => l.includes('Detected task failure')), 'no task failure seen by the CLI');
    t.equal(lines.at(-1), 'verify: Service rot converged', 'converged');

    const after = await liveTasks(m, 'rot', 2);
    t.notOk(after.some((x) => before.some((b) => b.ID === x.ID)), 'new task IDs');
    t.ok(after[0]!.CreatedAt < after[1]!.CreatedAt, 'slot 1 replaced before slot 2 (Parallelism 1)');
    const starts = logOf(dir).filter((l) => l[0] === 'start');
    t.same(starts.slice(2).map((l) => l[2]), ['two', 'two'], 'the new tasks read the new secret at start');
    const svc = JSON.parse(ok(await docker(['service', 'inspect', 'rot']), 'inspect').stdout)[0];
    t.match(svc.UpdateStatus, { State: 'completed', Message: 'update completed', StartedAt: String, CompletedAt: String });
    t.ok(svc.PreviousSpec, 'PreviousSpec kept');
    const pretty = ok(await docker(['service', 'inspect', '--pretty', 'rot']), 'inspect --pretty').stdout;
    t.match(pretty, /UpdateStatus:\n State:\s+completed\n Started:.*\n Completed:.*\n Message:\s+update completed/);

    const rb = ok(await docker(['service', 'rollback', 'rot']), 'service rollback');
    const rbLines = rb.stdout.split(/\r|\n/).map((l) => l.trim()).filter(Boolean);
    t.ok(rbLines.some((l) => l === 'rollback: manually requested rollback'), `rollback progress line: ${rb.stdout}`);
    t.notOk(rbLines.some((l) => l.includes('Detected task failure')), 'no task failure seen by the CLI');
    t.equal(rbLines.at(-1), 'verify: Service rot converged', 'rollback converged');
    const back = JSON.parse(ok(await docker(['service', 'inspect', 'rot']), 'inspect').stdout)[0];
    t.match(back.UpdateStatus, { State: 'rollback_completed', Message: 'rollback completed' });
    await liveTasks(m, 'rot', 2);
    t.same(logOf(dir).filter((l) => l[0] === 'start').slice(4).map((l) => l[2]), ['one', 'one'], 'rolled back: the first secret again');
    ok(await docker(['service', 'rm', 'rot']), 'service rm rot');
  });

  await t.test('live: same task IDs and processes, new bytes in place', async (t) => {
    const dir = out();
    ok(await docker(['service', 'create', '--name', 'lv', '--label', 'com.runsecrets.secret-update=live', '--secret', 'source=pw_v1,target=pw',
      '--detach', 'none', '/bin/sh', TASK, dir, 'pw']), 'service create lv');
    const [before] = await liveTasks(m, 'lv', 1);
    await waitFor('started', () => logOf(dir).length === 1, { timeoutMs: 10_000 });
    ok(await docker(['service', 'update', '--detach', ...rotate, 'lv']), 'service update (rotate)');
    await waitFor('the new bytes in the running task', () => {
      try {
        return readFileSync(join(a.mount, before!.ID, 'pw'), 'utf8') === 'two';
      } catch {
        return false;
      }
    }, { timeoutMs: 10_000 });
    const [after] = await liveTasks(m, 'lv', 1);
    t.equal(after!.ID, before!.ID, 'same task');
    t.same(logOf(dir).map((l) => l[0]), ['start'], 'same process: no new start');
    const svc = JSON.parse(ok(await docker(['service', 'inspect', 'lv']), 'inspect').stdout)[0];
    t.notOk(svc.UpdateStatus, 'nothing replaced: no UpdateStatus');
    ok(await docker(['service', 'rm', 'lv']), 'service rm lv');
  });

  await t.test('signal:SIGHUP: the signal comes once the new bytes are readable', async (t) => {
    const dir = out();
    ok(await docker(['service', 'create', '--name', 'sig', '--label', 'com.runsecrets.secret-update=signal:SIGHUP', '--secret', 'source=pw_v1,target=pw',
      '--detach', 'none', '/bin/sh', TASK, dir, 'pw']), 'service create sig');
    const [before] = await liveTasks(m, 'sig', 1);
    await waitFor('started', () => logOf(dir).length === 1, { timeoutMs: 10_000 });
    const inst = logOf(dir)[0]![1];
    ok(await docker(['service', 'update', '--detach', ...rotate, 'sig']), 'service update (rotate)');
    await waitFor('the SIGHUP noted', () => logOf(dir).some((l) => l[0] === 'hup'), { timeoutMs: 10_000 });
    t.same(logOf(dir), [['start', inst, 'one'], ['hup', inst, 'two']], 'one SIGHUP to the same process, which read the new bytes');
    const [after] = await liveTasks(m, 'sig', 1);
    t.equal(after!.ID, before!.ID, 'same task');
    ok(await docker(['service', 'rm', 'sig']), 'service rm sig');
  });

  await t.test('FailureAction rollback: a new task that fails within Monitor rolls the update back', async (t) => {
    const dir = out();
    ok(await docker(['service', 'create', '--name', 'fl', '--update-failure-action', 'rollback', '--update-monitor', '5s', '--rollback-monitor', '1s',
      '--secret', 'source=pw_v1,target=pw', '--detach', 'none', '/bin/sh', TASK, dir, 'pw']), 'service create fl');
    const [before] = await liveTasks(m, 'fl', 1);
    // The new spec's program does not exist: its task fails at once.
    const up = await docker(['service', 'update', '--args', join(dir, 'no-such-script.sh'), 'fl']);
    ok(up, 'service update (fails, rolled back)');
    const lines = up.stdout.split(/\r|\n/).map((l) => l.trim()).filter(Boolean);
    t.ok(lines.some((l) => /^rollback: update rolled back due to failure or early termination of task \w+$/.test(l)), `the CLI's rollback line: ${up.stdout}`);
    t.equal(lines.at(-1), 'verify: Service fl converged', 'the CLI follows the rollback to its end');
    const svc = JSON.parse(ok(await docker(['service', 'inspect', 'fl']), 'inspect').stdout)[0];
    t.match(svc.UpdateStatus, { State: 'rollback_completed', Message: 'rollback completed' });
    t.same(svc.Spec.TaskTemplate.ContainerSpec.Args, ['/bin/sh', TASK, dir, 'pw'], 'the previous spec is back');
    const [after] = await liveTasks(m, 'fl', 1);
    t.not(after!.ID, before!.ID, 'a new task with the previous spec');
    ok(await docker(['service', 'rm', 'fl']), 'service rm fl');
  });
});
