// `runsecrets manager init --dispatcher-heartbeat DURATION` (docker swarm init's option): kept in the cluster state,
// refused when it is not a duration from 50 ms to 1 h. The running manager's use of it (welcome period, /swarm's
// Dispatcher.HeartbeatPeriod, when a node goes down) is checked in test/reliability/partition.test.ts.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runCli } from '../helpers/manager.js';

t.test('manager init --dispatcher-heartbeat', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-hb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const good = join(dir, 'good');
  const r = await runCli(['manager', 'init', '--state-dir', good, '--advertise-addr', '127.0.0.1:2377', '--dispatcher-heartbeat', '15s']);
  t.equal(r.code, 0, `init: ${r.stderr}`);
  const cfg = JSON.parse(readFileSync(join(good, 'cluster.json'), 'utf8')) as { heartbeatMs?: number };
  t.equal(cfg.heartbeatMs, 15_000, 'kept in the cluster state as 15000 ms');

  const plain = join(dir, 'plain');
  t.equal((await runCli(['manager', 'init', '--state-dir', plain, '--advertise-addr', '127.0.0.1:2377'])).code, 0, 'init without it');
  t.equal((JSON.parse(readFileSync(join(plain, 'cluster.json'), 'utf8')) as { heartbeatMs?: number }).heartbeatMs, undefined, 'absent: the default (5 s)');

  for (const bad of ['abc', '10ms', '2h', '1.5ms']) {
    const d = join(dir, `bad-${bad}`);
    const b = await runCli(['manager', 'init', '--state-dir', d, '--advertise-addr', '127.0.0.1:2377', '--dispatcher-heartbeat', bad]);
    t.equal(b.code, 1, `"${bad}" refused`);
    t.match(b.stderr, /dispatcher-heartbeat|invalid duration/, `with a reason: ${b.stderr.trim()}`);
    t.notOk(existsSync(join(d, 'cluster.json')), 'and no cluster made');
  }
});
