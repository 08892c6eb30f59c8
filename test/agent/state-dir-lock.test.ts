// A second agent started on the state dir of a running one is refused at once (exit 1, a fatal line naming the
// first one's pid), before it touches anything: the first agent's task keeps running, same process, same task.
// Without the lock the second agent took the task processes for leftovers of a previous life and killed them.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseSkip } from '../helpers/env.js';
import { runsecretsArgv } from '../helpers/env.js';
import { startManager } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { BIN } from '../helpers/agent.js';
import { collectJsonLines } from '../helpers/wait.js';
import { createService, runningTask, serviceSpec, tasksOf } from '../helpers/cluster-ops.js';
import { TaskRecords } from '../../agent/executor/task-records.js';

t.test('a second agent on the same state dir is refused before it touches the first one', fuseSkip(), async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';
  const m = await startManager({ t });
  const a = managedAgent({ managerPort: m.tcpPort, hostname: 'lock-a' });
  t.teardown(() => stopOrKill(a));
  await a.start(m.workerToken);
  await createService(m, serviceSpec('locked', 'lock-a', []));
  const task = await runningTask(m, 'locked');
  const pidsBefore = new TaskRecords(a.stateDir).ids();
  t.same(pidsBefore, [task.ID], 'the task is recorded by the first agent');
  t.equal(readFileSync(join(a.stateDir, 'agent.pid'), 'utf8').trim(), String(a.proc!.pid), 'the first agent holds agent.pid');

  // The attack: a second agent on the same state dir (its own mount), as an operator's second unit would start it.
  const mount2 = join(a.dir, 'mnt2');
  mkdirSync(mount2);
  const [cmd, argv] = runsecretsArgv(BIN, ['agent', 'run', '--manager', `127.0.0.1:${m.tcpPort}`, '--state-dir', a.stateDir, '--mount', mount2, '--hostname', 'lock-b']);
  const second = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  collectJsonLines(second.stderr!, lines);
  const code = await new Promise<number | null>((res) => {
    const timer = setTimeout(() => second.kill('SIGKILL'), 10_000);
    second.once('close', (c) => {
      clearTimeout(timer);
      res(c);
    });
  });
  t.equal(code, 1, 'the second agent exits 1 at once');
  const fatal = lines.find((l) => l.level === 'fatal');
  t.match(String(fatal?.err), `another agent (pid ${a.proc!.pid}) is running on ${a.stateDir}`, 'and says which agent holds the dir');
  t.notOk(lines.some((l) => l.msg === 'killed the task processes left by the previous agent'), 'it killed nothing');

  // The first agent and its task are untouched: same task, still running, still recorded, its mount still served.
  const after = await tasksOf(m, 'locked');
  t.same(after.map((x) => [x.ID, x.Status.State]), [[task.ID, 'running']], 'the same task still runs (no replacement)');
  t.same(new TaskRecords(a.stateDir).ids(), [task.ID], 'its record is kept');
  t.ok(existsSync(join(a.mount, task.ID)), "the first agent's mount still serves the task folder");
  t.equal(readFileSync(join(a.stateDir, 'agent.pid'), 'utf8').trim(), String(a.proc!.pid), 'agent.pid still names the first agent');

  // A clean stop releases the lock; a pid file left by a dead process is taken over.
  t.equal(await a.stop(), 0, 'the first agent stops cleanly');
  t.notOk(existsSync(join(a.stateDir, 'agent.pid')), 'and removes agent.pid');
  writeFileSync(join(a.stateDir, 'agent.pid'), '2147483646\n'); // no such process
  await a.start();
  t.equal(readFileSync(join(a.stateDir, 'agent.pid'), 'utf8').trim(), String(a.proc!.pid), 'a stale agent.pid is taken over');
});
