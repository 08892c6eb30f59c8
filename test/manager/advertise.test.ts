// The advertise address: init and join-token print it, a manager whose listener it cannot reach warns (log line and
// stderr), `manager update --advertise-addr` changes it after init, and the join command printed then works.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuseSkipReason } from '../helpers/env.js';
import { isRoot, runCli, startManager } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { advertiseMismatch, normalizeAdvertiseAddr } from '../../manager/cluster/advertise.js';

t.test('what can reach what', async (t) => {
  t.equal(advertiseMismatch('192.0.2.2:2377', { host: '0.0.0.0', port: 2377 }), null, 'all addresses, same port');
  t.equal(advertiseMismatch('manager.example:2377', { host: '10.0.0.1', port: 2377 }), null, 'a name may resolve to the bound IP');
  t.equal(advertiseMismatch('10.0.0.1:2377', { host: '10.0.0.1', port: 2377 }), null);
  t.match(advertiseMismatch('192.0.2.2:2377', { host: '127.0.0.1', port: 23795 }), 'agents are told to join 192.0.2.2:2377 (the advertise address) but this manager listens on 127.0.0.1:23795');
  t.match(advertiseMismatch('192.0.2.2:2377', { host: '127.0.0.1', port: 2377 }), 'listens on 127.0.0.1:2377 only');
  t.match(advertiseMismatch('[::1]:2377', { host: '::', port: 2378 }), 'listens on [::]:2378');
  t.equal(normalizeAdvertiseAddr('10.1.1.1'), '10.1.1.1:2377', 'no port: 2377, as docker');
  t.equal(normalizeAdvertiseAddr('[fd00::1]'), '[fd00::1]:2377');
  for (const bad of ['', 'a:b', 'h:0', 'h:70000', 'a b:1']) t.throws(() => normalizeAdvertiseAddr(bad), /invalid advertise address/, JSON.stringify(bad));
});

if (!isRoot()) {
  t.comment('skipped the manager tests: they run as root (its socket and state are root-only)');
} else {
  t.test('init prints the advertise address; a bad one is refused', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'rs-adv-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const r = await runCli(['manager', 'init', '--state-dir', join(dir, 's'), '--advertise-addr', '192.0.2.2']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, 'runsecrets agent run --manager 192.0.2.2:2377');
    t.match(r.stdout, 'Agents will join at 192.0.2.2:2377 (the advertise address)');
    const bad = await runCli(['manager', 'init', '--state-dir', join(dir, 'b'), '--advertise-addr', 'host:99999']);
    t.equal(bad.code, 1);
    t.match(bad.stderr, 'invalid advertise address "host:99999"');
  });

  const skip = fuseSkipReason();
  t.test('a listener the advertise address misses is warned about; update fixes it; the printed join command works', skip ? { skip } : {}, async (t) => {
    process.env.RUNSECRETS_HEARTBEAT_MS = '500';
    const m = await startManager({ t }); // advertises 127.0.0.1:2377, listens on 127.0.0.1:<random port>
    const want = `agents are told to join 127.0.0.1:2377 (the advertise address) but this manager listens on 127.0.0.1:${m.tcpPort}`;
    const warnLine = m.logs().split('\n').find((l) => l.startsWith('{') && l.includes(want));
    t.match(JSON.parse(warnLine ?? '{}'), { level: 'warn', advertiseAddr: '127.0.0.1:2377', listen: `127.0.0.1:${m.tcpPort}` }, 'a warning in the log');
    t.match(m.logs(), `Warning: ${want}`, 'and on stderr for the operator');

    const jt = await m.cli(['manager', 'join-token', 'worker', '--socket', m.socket]);
    t.match(jt.stdout, 'runsecrets agent run --manager 127.0.0.1:2377');
    t.match(jt.stderr, `Warning: ${want}`, 'join-token warns too');

    const none = await m.cli(['manager', 'update', '--socket', m.socket]);
    t.equal(none.code, 1);
    t.match(none.stderr, 'nothing to update');
    const bad = await m.cli(['manager', 'update', '--advertise-addr', 'nope:0', '--socket', m.socket]);
    t.equal(bad.code, 1);
    t.match(bad.stderr, 'Error response from daemon: invalid advertise address "nope:0"');

    const up = await m.cli(['manager', 'update', '--advertise-addr', `127.0.0.1:${m.tcpPort}`, '--socket', m.socket]);
    t.equal(up.code, 0, up.stderr);
    t.equal(up.stdout, `Advertise address set to 127.0.0.1:${m.tcpPort}\n`);
    t.equal(up.stderr, '', 'no warning once it matches');
    const jt2 = await m.cli(['manager', 'join-token', 'worker', '--socket', m.socket]);
    t.equal(jt2.stderr, '');
    const printed = /RUNSECRETS_TOKEN=(\S+) runsecrets agent run --manager (\S+):(\d+)/.exec(jt2.stdout);
    t.ok(printed, jt2.stdout);
    const a = managedAgent({ managerHost: printed![2], managerPort: Number(printed![3]), hostname: 'adv-a' });
    t.teardown(async () => {
      await stopOrKill(a);
      rmSync(a.dir, { recursive: true, force: true });
    });
    await a.start(printed![1]);
    t.pass('an agent joins with the printed command');

    await m.restart();
    t.notMatch(m.logs(), 'agents are told to join', 'kept across a restart: no warning');
    t.match((await m.cli(['manager', 'join-token', 'worker', '--socket', m.socket])).stdout, `runsecrets agent run --manager 127.0.0.1:${m.tcpPort}`);
  });
}
