// _ping, /version and /info: what the docker CLI asks first, and what tells it that this is a swarm manager.
import { cpus, hostname, release, totalmem, type } from 'node:os';
import { API_VERSION, MIN_API_VERSION, sendJson } from './http.js';
import type { Ctx, Router } from './router.js';
import type { ClusterConfig } from '../cluster/state.js';
import { swarmSpecOf } from './swarm-spec.js';

export const VERSION = '0.1.0';

export interface SystemView {
  locked(): boolean;
  config(): ClusterConfig;
  /** The swarm's TLSInfo (node-certs.ts swarmTlsInfo); null while locked. */
  tlsInfo(): { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string } | null;
  /** Worker nodes in the store (every membership, as swarmkit's ListNodes); null while locked. */
  workerCount(): Promise<number | null>;
}

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
}

export function swarmObject(c: ClusterConfig, tlsInfo: { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string } | null): Record<string, unknown> {
  return {
    ID: c.clusterId,
    Version: { Index: c.version },
    CreatedAt: c.createdAt,
    UpdatedAt: c.updatedAt,
    Spec: swarmSpecOf(c),
    TLSInfo: tlsInfo ?? {},
    RootRotationInProgress: c.rootRotation !== undefined,
    // Docker's defaults, shown as Docker shows them; runsecrets has no overlay networks (tasks use the host's).
    DefaultAddrPool: ['10.0.0.0/8'],
    SubnetSize: 24,
    DataPathPort: 4789,
  };
}

export function registerSystemRoutes(router: Router, view: SystemView): void {
  const ping = (ctx: Ctx): void => {
    const { res } = ctx;
    res.setHeader('Swarm', view.locked() ? 'locked' : 'active/manager');
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    res.setHeader('Pragma', 'no-cache');
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': ctx.req.method === 'HEAD' ? 0 : 2 });
    res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
  };
  router.add('GET', '/_ping', ping, { anyRole: true });
  router.add('HEAD', '/_ping', ping, { anyRole: true });

  router.add(
    'GET',
    '/version',
    (ctx) => {
      const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch(), KernelVersion: release() };
      sendJson(ctx.res, 200, {
        Platform: { Name: 'runsecrets' },
        Components: [{ Name: 'Engine', Version: VERSION, Details: details }],
        Version: VERSION,
        ApiVersion: API_VERSION,
        MinAPIVersion: MIN_API_VERSION,
        GitCommit: '',
        GoVersion: `node ${process.version}`,
        Os: 'linux',
        Arch: goArch(),
        KernelVersion: release(),
        BuildTime: '',
      });
    },
    { anyRole: true },
  );

  router.add(
    'GET',
    '/info',
    async (ctx) => {
      const c = view.config();
      const locked = view.locked();
      const workers = locked ? null : await view.workerCount();
      // moby's swarm.Info: Nodes and Managers are counted from ListNodes (omitempty: absent while locked);
      // RemoteManagers are the managers that serve, at the address agents use (this manager is the only one).
      const swarm: Record<string, unknown> = {
        NodeID: c.nodeId,
        NodeAddr: c.advertiseAddr.replace(/:\d+$/, ''),
        LocalNodeState: locked ? 'locked' : 'active',
        ControlAvailable: !locked,
        Error: '',
        RemoteManagers: [{ NodeID: c.nodeId, Addr: c.advertiseAddr }],
      };
      if (workers !== null) {
        swarm.Nodes = workers + 1;
        swarm.Managers = 1;
      }
      if (!locked) swarm.Cluster = swarmObject(c, view.tlsInfo());
      sendJson(ctx.res, 200, {
        ID: c.nodeId,
        Containers: 0,
        ContainersRunning: 0,
        ContainersPaused: 0,
        ContainersStopped: 0,
        Images: 0,
        Name: hostname(),
        ServerVersion: VERSION,
        OperatingSystem: `runsecrets manager (${type()})`,
        OSType: 'linux',
        Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
        KernelVersion: release(),
        NCPU: cpus().length,
        MemTotal: totalmem(),
        Swarm: swarm,
      });
    },
    { anyRole: true },
  );
}
