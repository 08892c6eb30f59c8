// GET /info and GET /swarm against Docker's shapes (moby api/types/swarm: Info, ClusterInfo, Spec; reference §9.1),
// key by key in Go's order, with Swarm.Nodes and Swarm.Managers counted from the nodes the manager knows and the
// manager's serving address in RemoteManagers. The manager runs in this process so that nodes can be registered
// as the dispatcher registers them.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, request, runCli, type ApiResponse } from '../helpers/manager.js';
import { Manager } from '../../manager/manager.js';
import { createLogger } from '../../shared/log.js';
import { registerNode } from '../../manager/orchestrator/nodes.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'rsm-info-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const stateDir = join(dir, 'state');
const socket = join(dir, 'manager.sock');
const init = await runCli(['manager', 'init', '--state-dir', stateDir, '--advertise-addr', '127.0.0.1:2377', '--dispatcher-heartbeat', '1h']);
if (init.code !== 0) throw new Error(`manager init: ${init.stderr}`);
const m = new Manager({ stateDir, socketPath: socket, listen: null, log: createLogger('manager', 'silent') });
await m.start();
t.teardown(() => m.stop());
const store = m.state!.store;
const api = (method: string, path: string): Promise<ApiResponse> => request(socket, method, path);

const SPEC_KEYS = ['Name', 'Labels', 'Orchestration', 'Raft', 'Dispatcher', 'CAConfig', 'TaskDefaults', 'EncryptionConfig'];
const CLUSTER_KEYS = ['ID', 'Version', 'CreatedAt', 'UpdatedAt', 'Spec', 'TLSInfo', 'RootRotationInProgress', 'DefaultAddrPool', 'SubnetSize', 'DataPathPort'];

t.test('GET /swarm: ClusterInfo and JoinTokens, in Go order, with swarm init defaults', async (t) => {
  const s = (await api('GET', '/swarm')).json as Record<string, unknown>;
  t.same(Object.keys(s), [...CLUSTER_KEYS, 'JoinTokens']);
  const spec = s.Spec as Record<string, unknown>;
  t.same(Object.keys(spec), SPEC_KEYS);
  const certExpiry = (spec.CAConfig as { NodeCertExpiry: number }).NodeCertExpiry;
  // Docker's default node certificate expiry is 90 days (reference §9.1); runsecrets' default is another part's.
  t.equal(certExpiry, 7_776_000_000_000_000, "Docker's 90-day NodeCertExpiry");
  t.same(spec, {
    Name: 'default',
    Labels: {},
    Orchestration: { TaskHistoryRetentionLimit: 5 },
    Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
    Dispatcher: { HeartbeatPeriod: 3_600_000_000_000 }, // this test's --dispatcher-heartbeat 1h
    CAConfig: { NodeCertExpiry: certExpiry },
    TaskDefaults: {},
    EncryptionConfig: { AutoLockManagers: false },
  });
  t.same(Object.keys(s.TLSInfo as object), ['TrustRoot', 'CertIssuerSubject', 'CertIssuerPublicKey']);
  t.same([s.RootRotationInProgress, s.DefaultAddrPool, s.SubnetSize, s.DataPathPort], [false, ['10.0.0.0/8'], 24, 4789]);
  // Docker's tokens are SWMTKN-1-<50>-<25>; runsecrets' are its own (RSTKN-1-…), by design of the join path.
  t.match(s.JoinTokens, { Worker: /^(SWMTKN|RSTKN)-1-[0-9a-z]{50}-[0-9a-z]{25}$/, Manager: /^(SWMTKN|RSTKN)-1-[0-9a-z]{50}-[0-9a-z]{25}$/ });
  t.not((s.JoinTokens as { Worker: string }).Worker, (s.JoinTokens as { Manager: string }).Manager);
});

t.test('GET /info: Swarm counted from the nodes, Cluster as GET /swarm without JoinTokens', async (t) => {
  const info = async (): Promise<Record<string, unknown>> => ((await api('GET', '/info')).json as { Swarm: Record<string, unknown> }).Swarm;
  let s = await info();
  t.same(Object.keys(s), ['NodeID', 'NodeAddr', 'LocalNodeState', 'ControlAvailable', 'Error', 'RemoteManagers', 'Nodes', 'Managers', 'Cluster']);
  t.match(s, { NodeAddr: '127.0.0.1', LocalNodeState: 'active', ControlAvailable: true, Error: '', Nodes: 1, Managers: 1 });
  t.same(s.RemoteManagers, [{ NodeID: s.NodeID, Addr: '127.0.0.1:2377' }], 'the address the manager serves agents on');
  t.same(Object.keys(s.Cluster as object), CLUSTER_KEYS);
  const swarm = (await api('GET', '/swarm')).json as Record<string, unknown>;
  delete swarm.JoinTokens;
  t.same(s.Cluster, swarm);

  await registerNode(store, { hostname: 'w1' });
  await registerNode(store, { hostname: 'w2', membership: 'pending' }); // listed by swarmkit too
  s = await info();
  t.match(s, { Nodes: 3, Managers: 1 });
});
