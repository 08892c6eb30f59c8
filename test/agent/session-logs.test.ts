// The agent's log says what happened: while the manager is down it logs its retries (rate-limited, with the next
// attempt's time and the error), and a clean SIGTERM, which stops the tasks, does not claim "tasks keep running".
import t from 'tap';
import { fuseSkip } from '../helpers/env.js';
import { startManager } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { createService, runningTask, serviceSpec } from '../helpers/cluster-ops.js';

t.test('retries are logged while the manager is down; a clean stop says it stopped', fuseSkip(), async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';
  const m = await startManager({ t });
  const a = managedAgent({ managerPort: m.tcpPort, hostname: 'logs-a' });
  t.teardown(() => stopOrKill(a));
  await a.start(m.workerToken);
  await createService(m, serviceSpec('sleeper', 'logs-a', []));
  await runningTask(m, 'sleeper');

  let from = a.logs().length;
  await m.stop();
  const down = await a.waitLog((l) => l.msg === 'disconnected from the manager; tasks keep running', from);
  t.equal(down.level, 'warn', 'a manager going away is a warning (the task does keep running)');
  const retry = await a.waitLog((l) => l.msg === 'manager unreachable: retrying', from);
  t.equal(retry.level, 'warn');
  const next = Date.parse(String(retry.nextAttemptAt));
  t.ok(next >= Date.parse(String(retry.time)) && next <= Date.parse(String(retry.time)) + 3_000, `the next attempt's time: ${String(retry.nextAttemptAt)}`);
  t.match(String(retry.err), /ECONNREFUSED|connection closed \(code \d+\)/, `and why the last one failed: ${String(retry.err)}`);
  // Attempts go on every 2 s at most; the lines do not: one per 30 s.
  await a.waitLog((l) => l.msg === 'reconnecting' && Number(l.attempt) >= 4, from, 20_000);
  t.equal(a.logs().slice(from).filter((l) => l.msg === 'manager unreachable: retrying').length, 1, 'one retry line for several attempts');

  from = a.logs().length;
  await m.restart();
  await a.waitLog((l) => l.msg === 'connected to the manager', from, 20_000);
  await m.stop();
  await a.waitLog((l) => l.msg === 'manager unreachable: retrying', from);
  t.pass("a later outage's first retry is logged at once (the limit starts again after a connection)");
  from = a.logs().length;
  await m.restart();
  await a.waitLog((l) => l.msg === 'connected to the manager', from, 20_000);

  from = a.logs().length;
  t.equal(await a.stop('SIGTERM'), 0, 'clean exit');
  const after = a.logs().slice(from);
  t.notOk(after.some((l) => l.msg === 'disconnected from the manager; tasks keep running'), 'no "tasks keep running" after they were stopped');
  t.ok(after.some((l) => l.msg === 'session with the manager closed: the agent is stopping'), 'the session end says why');
});
