// The normal flow across real links: a manager on the host and two agents, each in its own network namespace
// (veth pair to the host; test/helpers/netns.ts). Join, a service spread over both, each task reading its secret at
// /run/secrets/NAME inside its mount namespace, a live grant and a live revoke, service rm wiping the folders.
import t from 'tap';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fuseSkipReason } from '../helpers/env.js';
import { createNetns, netnsSkipReason, type NetnsHandle } from '../helpers/netns.js';
import { startManager, request, type CliResult } from '../helpers/manager.js';
import { managedAgent, type ManagedAgentProc } from '../helpers/managed-agent.js';
import { forceUnmount } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';
import { TASK_NS_ID } from '../helpers/task-ns.js';

const reason = fuseSkipReason() || netnsSkipReason();
if (reason) process.stderr.write(`# SKIP netns e2e: ${reason}\n`);

function ok(r: CliResult, what: string): CliResult {
  if (r.code !== 0) throw new Error(`${what} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return r;
}

const read = (p: string): string | null => {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return null;
  }
};

t.test('two agents in network namespaces: join, spread, read, grant, revoke, rm', reason ? { skip: reason } : {}, async (t) => {
  const m = await startManager({ listenHost: '0.0.0.0', env: { RUNSECRETS_HEARTBEAT_MS: '500' } });
  const out = mkdtempSync(join(tmpdir(), 'rs-netns-out-'));
  chmodSync(out, 0o777);
  const nodes: { ns: NetnsHandle; agent: ManagedAgentProc }[] = [];
  t.teardown(async () => {
    for (const n of nodes) {
      const p = n.agent.proc;
      if (p && p.exitCode === null && p.signalCode === null) {
        const stopped = n.agent.stop();
        const killer = setTimeout(() => p.kill('SIGKILL'), 15_000);
        await stopped;
        clearTimeout(killer);
      }
      forceUnmount(n.agent.mount);
    }
    await m.cleanup();
    for (const n of nodes) {
      n.ns.cleanup();
      rmSync(n.agent.dir, { recursive: true, force: true });
    }
    rmSync(out, { recursive: true, force: true });
  });
  for (const host of ['ns-a', 'ns-b']) {
    const ns = createNetns();
    nodes.push({ ns, agent: managedAgent({ managerPort: m.tcpPort, managerHost: ns.hostAddr, hostname: host, wrap: ns.wrap }) });
  }
  for (const n of nodes) await n.agent.start(m.workerToken);
  const list = ((await request(m.socket, 'GET', '/nodes')).json as { Description: { Hostname: string }; Status: { State: string } }[])
    .filter((n) => n.Description.Hostname.startsWith('ns-'));
  t.equal(list.length, 2, 'two agents joined through their links');
  t.ok(list.every((n) => n.Status.State === 'ready'), 'both ready');

  ok(await m.cli(['secret', 'create', 'ns_pw', '-'], 'across-the-link'), 'secret create');
  ok(await m.cli(['secret', 'create', 'ns_extra', '-'], 'granted-later'), 'secret create');
  ok(await m.cli(['service', 'create', '--name', 'nsr', '--label', 'com.runsecrets.secret-update=live', '--replicas', '2', '--secret', 'ns_pw', '--detach', 'none', '/bin/sh', '-c',
    `${TASK_NS_ID}; while :; do for f in ns_pw ns_extra; do cat /run/secrets/$f > ${out}/$f.$i.tmp 2>/dev/null || echo GONE > ${out}/$f.$i.tmp; mv ${out}/$f.$i.tmp ${out}/$f.$i; done; ` +
    `readlink /proc/self/ns/net > ${out}/net.$i; sleep 0.05; done`]), 'service create');
  const values = (f: string): (string | null)[] => readdirSync(out).filter((x) => new RegExp(`^${f}\\.\\d+$`).test(x)).map((x) => read(join(out, x)));
  await waitFor('2 tasks reading ns_pw', () => values('ns_pw').length === 2 && values('ns_pw').every((v) => v === 'across-the-link') && values('net').length === 2, { timeoutMs: 20_000 });
  const nets = new Set(values('net'));
  t.equal(nets.size, 2, `the two tasks run in two different network namespaces (${[...nets].join(', ')})`);
  t.ok(nodes.every((n) => readdirSync(n.agent.mount).length === 1), 'one task folder on each agent mount');

  ok(await m.cli(['service', 'update', '--secret-add', 'ns_extra', '--detach', 'nsr']), 'grant');
  await waitFor('the grant in both tasks', () => values('ns_extra').every((v) => v === 'granted-later'), { timeoutMs: 5_000 });
  ok(await m.cli(['service', 'update', '--secret-rm', 'ns_pw', '--detach', 'nsr']), 'revoke');
  await waitFor('the revoke in both tasks', () => values('ns_pw').every((v) => v === 'GONE'), { timeoutMs: 5_000 });
  t.pass('grant and revoke reached both tasks across the links');

  const folders = nodes.map((n) => readdirSync(n.agent.mount).map((d) => join(n.agent.mount, d))).flat();
  ok(await m.cli(['service', 'rm', 'nsr']), 'service rm');
  await waitFor('the task folders wiped', () => folders.every((f) => !existsSync(f)), { timeoutMs: 10_000 });
  t.pass('service rm: both folders gone');
});
