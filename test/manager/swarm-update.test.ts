// The swarm's own settings through the stock docker CLI: `docker swarm update` applies what runsecrets supports
// (autolock on and off across restarts, task history limit, certificate expiry, dispatcher heartbeat, live on a
// connected agent) and refuses the rest naming the field, never "Swarm updated." while ignoring it; GET /swarm has
// Docker's whole shape; init/join/leave answer as a node already in a swarm.
import t from 'tap';
import { startManager, request, haveDocker, isRoot } from '../helpers/manager.js';
import { dockerCli } from '../helpers/docker-cli.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { fuseSkipReason } from '../helpers/env.js';

const skip = !isRoot() ? 'needs root (the manager socket is root-only)' : haveDocker() ? false : 'the docker CLI is not installed';

interface SwarmJson {
  Version: { Index: number };
  Spec: {
    Orchestration: { TaskHistoryRetentionLimit: number };
    Raft: Record<string, number>;
    Dispatcher: { HeartbeatPeriod: number };
    CAConfig: { NodeCertExpiry: number };
    EncryptionConfig: { AutoLockManagers: boolean };
    Labels: Record<string, string>;
  };
  TLSInfo: { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string };
  DefaultAddrPool: string[];
  SubnetSize: number;
  DataPathPort: number;
}

t.test('docker swarm update on a runsecrets manager', { skip }, async (t) => {
  const m = await startManager({ t, tcp: false });
  const cli = dockerCli();
  t.teardown(() => cli.cleanup());
  const docker = (args: string[], input?: string) => cli.run(m.dockerHost, args, input);
  const swarm = async (): Promise<SwarmJson> => (await request(m.socket, 'GET', '/swarm')).json as SwarmJson;

  await t.test("GET /swarm has Docker's whole shape with its defaults", async (t) => {
    const s = await swarm();
    t.equal(s.Spec.Orchestration.TaskHistoryRetentionLimit, 5);
    t.same(s.Spec.Raft, { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 });
    t.equal(s.Spec.Dispatcher.HeartbeatPeriod, 5_000_000_000);
    t.ok(s.Spec.CAConfig.NodeCertExpiry >= 3600e9, 'a node certificate expiry');
    t.equal(s.Spec.EncryptionConfig.AutoLockManagers, false);
    t.match(s.TLSInfo, { TrustRoot: /BEGIN CERTIFICATE/, CertIssuerSubject: /^[A-Za-z0-9+/]+=*$/, CertIssuerPublicKey: /^[A-Za-z0-9+/]+=*$/ });
    t.same([s.DefaultAddrPool, s.SubnetSize, s.DataPathPort], [['10.0.0.0/8'], 24, 4789]);
  });

  await t.test('task history limit, certificate expiry, heartbeat and labels are applied', async (t) => {
    const r = await docker(['swarm', 'update', '--task-history-limit', '2', '--cert-expiry', '48h', '--dispatcher-heartbeat', '7s']);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'Swarm updated.\n');
    const s = await swarm();
    t.equal(s.Spec.Orchestration.TaskHistoryRetentionLimit, 2);
    t.equal(s.Spec.CAConfig.NodeCertExpiry, 48 * 3600e9);
    t.equal(s.Spec.Dispatcher.HeartbeatPeriod, 7e9);
  });

  await t.test('what runsecrets cannot honour is refused, naming it, and nothing changes', async (t) => {
    const before = await swarm();
    const raft = await docker(['swarm', 'update', '--snapshot-interval', '5']);
    t.equal(raft.code, 1);
    t.match(raft.stderr, /runsecrets does not support changing Spec\.Raft\.SnapshotInterval/);
    const expiry = await docker(['swarm', 'update', '--cert-expiry', '30m']);
    t.equal(expiry.code, 1);
    t.match(expiry.stderr, /minimum certificate expiry time is: 1h0m0s/, "Docker's text");
    const after = await swarm();
    t.same(after.Spec, before.Spec, 'the spec is unchanged');
    t.equal(after.Version.Index, before.Version.Index, 'and so is the version');
  });

  await t.test('init, join and leave answer as a node already in a swarm', async (t) => {
    const already = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
    t.match((await docker(['swarm', 'init'])).stderr, already);
    t.match((await docker(['swarm', 'join', '--token', 'SWMTKN-1-x-y', '127.0.0.1:2377'])).stderr, already);
    const leave = await docker(['swarm', 'leave']);
    t.equal(leave.code, 1);
    t.match(leave.stderr, /You are attempting to leave the swarm on a node that is participating as a manager/);
  });

  await t.test('autolock on: the key printed, then required after a restart; off again: not', async (t) => {
    t.equal((await docker(['secret', 'create', 'kept', '-'], 'kept-value')).code, 0);
    const on = await docker(['swarm', 'update', '--autolock=true']);
    t.equal(on.code, 0, on.stderr);
    t.match(on.stdout, /^Swarm updated\.\nTo unlock a swarm manager after it restarts, run the `docker swarm unlock`\ncommand and provide the following key:\n\n {4}(\S+)\n/);
    const key = /^ {4}(\S+)$/m.exec(on.stdout)?.[1] ?? '';
    t.match(key, /^RSKEY-1-/, 'the unlock key');
    t.equal((await swarm()).Spec.EncryptionConfig.AutoLockManagers, true);
    await m.restart();
    const locked = await request(m.socket, 'GET', '/secrets');
    t.equal(locked.status, 503, 'locked after the restart');
    t.match(locked.text, /Swarm is encrypted and needs to be unlocked/);
    const bad = await m.unlock('RSKEY-1-' + 'A'.repeat(43));
    t.not(bad.code, 0, 'a wrong key is refused');
    const good = await m.unlock(key);
    t.equal(good.code, 0, good.stderr);
    t.match((await docker(['secret', 'ls', '--format', '{{.Name}}'])).stdout, /^kept$/m, 'the store opened with the key');

    const off = await docker(['swarm', 'update', '--autolock=false']);
    t.equal(off.code, 0, off.stderr);
    t.equal(off.stdout, 'Swarm updated.\n');
    await m.restart();
    t.equal((await request(m.socket, 'GET', '/secrets')).status, 200, 'unlocked after the next restart, with no key');
  });
});

t.test('a new heartbeat period reaches a connected agent on its session', { skip: skip || fuseSkipReason() }, async (t) => {
  const m = await startManager({ t, env: { RUNSECRETS_HEARTBEAT_MS: undefined } });
  const ag = managedAgent({ managerPort: m.tcpPort, hostname: 'hb' });
  t.teardown(() => stopOrKill(ag).then(() => ag.cleanup()));
  await ag.start(m.workerToken);
  const cli = dockerCli();
  t.teardown(() => cli.cleanup());
  const from = ag.logs().length;
  const r = await cli.run(m.dockerHost, ['swarm', 'update', '--dispatcher-heartbeat', '2s']);
  t.equal(r.code, 0, r.stderr);
  const line = await ag.waitLog((l) => l.msg === 'heartbeat period changed by the manager', from);
  t.equal(line.heartbeatMs, 2000, 'the agent heartbeats at the new period');
  const nodes = (await request(m.socket, 'GET', '/nodes')).json as Array<{ Description: { Hostname: string }; Status: { State: string } }>;
  t.same(nodes.filter((n) => n.Description.Hostname === 'hb').map((n) => n.Status.State), ['ready'], 'the node stays ready');
});
