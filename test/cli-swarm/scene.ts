// Canned, Docker-shaped objects for the fake engine (fake-engine.ts): three nodes, replicated and global
// services, tasks with history and errors, secrets and configs whose names share prefixes. Times are relative to
// `now` and in whole hours, far from any humanDuration boundary, so that "2 hours ago" reads the same for both
// CLIs however slowly the suite runs (an age in seconds would tick between the two runs).
import type { EngineState, Json } from './fake-engine.js';

const DIGEST = 'sha256:' + 'ab'.repeat(32);

export const IDS = {
  web: 'webservice0000000000000001',
  cache2: 'cacheservice00000000000002',
  cache10: 'cacheservice00000000000010',
  agent: 'agentservice00000000000001',
  node1: 'node1aaaaaaaaaaaaaaaaaaaa1',
  node2: 'node2bbbbbbbbbbbbbbbbbbbb2',
  node10: 'node10cccccccccccccccccc10',
  secret: 'secretmysecret00000000001',
  secretLong: 'secretmysecretlong0000002',
  other: 'secretother0000000000003',
  config: 'configmyconfig00000000001',
};

export function scene(now = Date.now()): EngineState {
  const at = (msAgo: number): string => new Date(now - msAgo).toISOString();
  const H = 3_600_000;
  const meta = (id: string, index: number, created: number): Json => ({
    ID: id,
    Version: { Index: index },
    CreatedAt: at(created),
    UpdatedAt: at(created - 1000),
  });
  const service = (id: string, spec: Json, extra: Json = {}): Json => ({ ...meta(id, 21, 5 * H), Spec: spec, ...extra });
  const containerSpec = (image: string, more: Json = {}): Json => ({ Image: image, Init: false, DNSConfig: {}, Isolation: 'default', ...more });
  const web = service(
    IDS.web,
    {
      Name: 'web',
      Labels: { tier: 'front' },
      TaskTemplate: {
        ContainerSpec: containerSpec(`redis:7.4.1@${DIGEST}`, {
          Args: ['redis-server', '--appendonly', 'yes'],
          Env: ['A=1'],
          Dir: '/data',
          User: '1000:1000',
          Secrets: [{ File: { Name: 'my_secret', UID: '0', GID: '0', Mode: 292 }, SecretID: IDS.secret, SecretName: 'my_secret' }],
          Configs: [{ File: { Name: '/etc/app.conf', UID: '0', GID: '0', Mode: 292 }, ConfigID: IDS.config, ConfigName: 'my_config' }],
        }),
        Resources: { Limits: {}, Reservations: {} },
        RestartPolicy: { Condition: 'on-failure', Delay: 5_000_000_000, MaxAttempts: 3 },
        Placement: { Constraints: ['node.role==worker'] },
        ForceUpdate: 0,
        Runtime: 'container',
      },
      Mode: { Replicated: { Replicas: 3 } },
      EndpointSpec: { Mode: 'vip' },
    },
    {
      Endpoint: {
        Spec: { Mode: 'vip' },
        Ports: [
          { Protocol: 'tcp', TargetPort: 6379, PublishedPort: 30000, PublishMode: 'ingress' },
          { Protocol: 'tcp', TargetPort: 6380, PublishedPort: 30001, PublishMode: 'ingress' },
          { Protocol: 'udp', TargetPort: 53, PublishedPort: 53, PublishMode: 'ingress' },
        ],
      },
      ServiceStatus: { RunningTasks: 2, DesiredTasks: 3, CompletedTasks: 0 },
    },
  );
  const cache = (id: string, n: string, max: number): Json =>
    service(
      id,
      {
        Name: n,
        Labels: {},
        TaskTemplate: {
          ContainerSpec: containerSpec('docker.io/library/memcached:1.6'),
          Placement: max > 0 ? { MaxReplicas: max } : {},
          ForceUpdate: 0,
          Runtime: 'container',
        },
        Mode: { Replicated: { Replicas: 1 } },
        EndpointSpec: { Mode: 'vip' },
      },
      { Endpoint: { Spec: { Mode: 'vip' } }, ServiceStatus: { RunningTasks: 1, DesiredTasks: 1, CompletedTasks: 0 } },
    );
  const agent = service(
    IDS.agent,
    {
      Name: 'agent',
      Labels: {},
      TaskTemplate: { ContainerSpec: containerSpec('busybox'), ForceUpdate: 0, Runtime: 'container' },
      Mode: { Global: {} },
      EndpointSpec: { Mode: 'vip' },
    },
    { Endpoint: { Spec: { Mode: 'vip' } }, ServiceStatus: { RunningTasks: 2, DesiredTasks: 3, CompletedTasks: 0 } },
  );
  const task = (id: string, serviceId: string, slot: number, nodeId: string, image: string, desired: string, state: string, agoMs: number, err = ''): Json => ({
    ...meta(id, 30, agoMs),
    Labels: {},
    Spec: { ContainerSpec: { Image: image, Isolation: 'default' }, ForceUpdate: 0 },
    ServiceID: serviceId,
    Slot: slot,
    NodeID: nodeId,
    Status: { Timestamp: at(agoMs), State: state, Message: state, ...(err ? { Err: err } : {}), ContainerStatus: {}, PortStatus: {} },
    DesiredState: desired,
  });
  const longErr = 'task: non-zero exit (137): the process was killed because it ran out of memory';
  const tasks = [
    task('webtask1new00000000000001', IDS.web, 1, IDS.node1, `redis:7.4.1@${DIGEST}`, 'running', 'running', 2 * H + 600_000),
    task('webtask1old00000000000002', IDS.web, 1, IDS.node1, 'redis:7.4.0', 'shutdown', 'failed', 3 * H + 600_000, longErr),
    task('webtask1older000000000003', IDS.web, 1, IDS.node2, 'redis:7.4.0', 'shutdown', 'shutdown', 4 * H + 600_000),
    task('webtask2000000000000000004', IDS.web, 2, IDS.node2, `redis:7.4.1@${DIGEST}`, 'running', 'running', 2 * H + 600_000),
    task('webtask10000000000000000005', IDS.web, 10, '', `redis:7.4.1@${DIGEST}`, 'running', 'pending', 7 * H, 'no suitable node'),
    task('agenttask1000000000000001', IDS.agent, 0, IDS.node1, 'busybox:latest', 'running', 'running', 26 * H),
    task('agenttask2000000000000002', IDS.agent, 0, IDS.node10, 'busybox:latest', 'running', 'starting', 5 * H),
    task('agenttask3000000000000003', IDS.agent, 0, 'nodegone00000000000000000', 'busybox:latest', 'shutdown', 'orphaned', 50 * H),
  ];
  const node = (id: string, hostname: string, extra: Json = {}, spec: Json = {}): Json => ({
    ...meta(id, 40, 72 * H),
    Spec: { Labels: {}, Role: 'worker', Availability: 'active', ...spec },
    Description: {
      Hostname: hostname,
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 4_000_000_000, MemoryBytes: 20 * 1024 * 1024 },
      Engine: { EngineVersion: '28.2.2', Plugins: [{ Type: 'Network', Name: 'overlay' }, { Type: 'Volume', Name: 'local' }] },
      TLSInfo: {},
    },
    Status: { State: 'ready', Addr: '10.0.0.1' },
    ...extra,
  });
  return {
    secrets: [
      { ...meta(IDS.secret, 11, H), Spec: { Name: 'my_secret', Labels: {} } },
      { ...meta(IDS.secretLong, 12, H), Spec: { Name: 'my_secret_long', Labels: {} } },
      { ...meta(IDS.other, 13, H), Spec: { Name: 'other', Labels: {} } },
    ],
    configs: [{ ...meta(IDS.config, 14, H), Spec: { Name: 'my_config', Labels: {} } }],
    services: [web, cache(IDS.cache10, 'cache-10', 2), cache(IDS.cache2, 'cache-2', 0), agent],
    tasks,
    nodes: [
      node(IDS.node2, 'node-2-foo', { ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '10.0.0.2:2377' } }, { Role: 'manager', Labels: { zone: 'a' } }),
      node(IDS.node10, 'node-10-foo', { Status: { State: 'down', Addr: '10.0.0.10', Message: 'heartbeat failure' } }, { Availability: 'drain' }),
      node(IDS.node1, 'node-1-foo', {}, { Name: 'named-node-1' }),
    ],
    info: { ID: 'engine', Swarm: { NodeID: IDS.node2, LocalNodeState: 'active', ControlAvailable: true } },
  };
}
