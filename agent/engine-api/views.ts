// The JSON shapes of `docker ps` (GET /containers/json) and `docker inspect` (GET /containers/{id}/json), §3.1-3.2.
import type { ContainerInfo } from '../runtime/runtime.js';
import { commandText, dockerState, statusText } from './containers.js';

const HOST_NETWORK = {
  host: {
    IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '',
    IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DriverOpts: null, DNSNames: null,
  },
};

function mounts(c: ContainerInfo): unknown[] {
  return c.mounts.map((m) => ({ Type: 'bind', Source: m.source, Destination: m.destination, Mode: m.rw ? '' : 'ro', RW: m.rw, Propagation: 'rprivate' }));
}

function imageId(c: ContainerInfo): string {
  return c.imageDigest ?? '';
}

export function listView(c: ContainerInfo): Record<string, unknown> {
  return {
    Id: c.containerId,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: imageId(c),
    Command: commandText(c),
    Created: Math.floor(Date.parse(c.created) / 1000),
    Ports: [],
    Labels: c.labels,
    State: dockerState(c.status.state),
    Status: statusText(c),
    HostConfig: { NetworkMode: 'host' },
    NetworkSettings: { Networks: HOST_NETWORK },
    Mounts: mounts(c),
  };
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

export function inspectView(c: ContainerInfo, execIds: string[]): Record<string, unknown> {
  const st = dockerState(c.status.state);
  return {
    Id: c.containerId,
    Created: c.created,
    Path: c.path,
    Args: c.args,
    State: {
      Status: st,
      Running: st === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: st === 'dead',
      Pid: st === 'running' ? (c.pid ?? 0) : 0,
      ExitCode: c.status.exitCode ?? 0,
      Error: c.status.err ?? '',
      StartedAt: c.startedAt ?? ZERO_TIME,
      FinishedAt: c.finishedAt ?? ZERO_TIME,
    },
    Image: imageId(c),
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: '',
    Name: `/${c.name}`,
    RestartCount: 0,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: execIds.length > 0 ? execIds : null,
    HostConfig: { NetworkMode: 'host', LogConfig: { Type: 'json-file', Config: {} }, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } },
    GraphDriver: { Name: 'overlay2', Data: null },
    Mounts: mounts(c),
    Config: {
      Hostname: c.hostname,
      Domainname: '',
      User: c.user,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: c.env,
      Cmd: c.args,
      Image: c.image,
      Volumes: null,
      WorkingDir: c.workingDir,
      Entrypoint: [c.path],
      OnBuild: null,
      Labels: c.labels,
    },
    NetworkSettings: {
      Bridge: '', SandboxID: '', SandboxKey: '', Ports: {}, HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
      IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', MacAddress: '', Networks: HOST_NETWORK,
    },
  };
}
