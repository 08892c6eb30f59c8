// `service create` without -d waits for convergence as docker does (the service ID first, then progress lines,
// then "verify: Service <id> converged"), and exits 1 when the service cannot converge (a task rejected by its node,
// or ended with a restart policy that will not replace it); -d returns at once; -q hides the progress.
import t from 'tap';
import { fuseSkip } from '../helpers/env.js';
import { startManager } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';

t.test('service create waits for convergence, and fails when it cannot converge', fuseSkip(), async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';
  const m = await startManager({ t });
  const a = managedAgent({ managerPort: m.tcpPort, hostname: 'conv-a' });
  t.teardown(() => stopOrKill(a));
  await a.start(m.workerToken);
  const create = (...args: string[]) => m.cli(['service', 'create', '--constraint', 'node.hostname==conv-a', ...args]);

  const ok = await create('--name', 'ok', 'none', 'sleep', '1d');
  t.equal(ok.code, 0, ok.stderr);
  const lines = ok.stdout.trim().split('\n');
  const id = lines[0]!;
  t.match(id, /^[0-9a-z]{25}$/, 'the service ID first');
  t.ok(lines.includes('overall progress: 0 out of 1 tasks') || lines.includes('overall progress: 1 out of 1 tasks'), ok.stdout);
  t.ok(lines.includes('1/1: running'), 'the slot reaches running');
  t.ok(lines.includes('overall progress: 1 out of 1 tasks'));
  t.match(ok.stdout, /verify: Waiting \d seconds to verify that tasks are stable\.\.\./);
  t.equal(lines.at(-1), `verify: Service ${id} converged`, 'and ends converged');

  const bad = await create('--name', 'bad', 'none'); // no command: the agent rejects the task (docker's wording)
  t.equal(bad.code, 1, 'a rejected task: exit 1');
  const badId = bad.stdout.split('\n')[0]!;
  t.match(bad.stderr, new RegExp(`^service ${badId} cannot converge: task [0-9a-z]{25} was rejected: No command specified\n$`), bad.stderr);
  t.match(bad.stdout, /\n1\/1: No command specified\n/, 'the slot line shows the task error, as docker does');

  const once = await create('--name', 'once', '--restart-condition', 'none', 'none', 'sh', '-c', 'exit 3');
  t.equal(once.code, 1, 'a task that ends and will not be replaced: exit 1');
  t.match(once.stderr, /cannot converge: task [0-9a-z]{25} failed.* and the restart policy \(none\) will not replace it/);

  const quiet = await create('--name', 'quiet', '-q', 'none', 'sleep', '1d');
  t.equal(quiet.code, 0, quiet.stderr);
  t.match(quiet.stdout, /^[0-9a-z]{25}\n$/, '-q: only the ID');

  const started = Date.now();
  const detached = await create('--name', 'det', '-d', 'none');
  t.equal(detached.code, 0, '-d: returns at once, whatever the tasks do');
  t.match(detached.stdout, /^[0-9a-z]{25}\n$/);
  t.ok(Date.now() - started < 5_000);
});
