// One running manager: opens the state (or waits, locked, for the unlock key), serves the API on the Unix socket and
// on mutual TLS, and shuts down cleanly, committing what is queued before it closes the store.
import type http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { existsSync, unlinkSync } from 'node:fs';
import type { Logger } from '../shared/log.js';
import { errorMessage } from '../shared/errors.js';
import { etcdStoreOf, InvalidUnlockKeyError, OpenCluster, readClusterConfig, takeFirstRunUnlockKey, type ClusterConfig } from './cluster/state.js';
import { openLocalEtcd, type LocalEtcdBackend } from './etcd/local-backend.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/types.js';
import { isWelcomeManagerAddr, type ManagerEntry } from '../shared/protocol.js';
import { RevocationList } from './pki/revocation.js';
import { NodeCerts } from './pki/node-certs.js';
import { nodeCertValidityMs } from './cluster/settings.js';
import { AdminCertRegistry } from './pki/admin-certs.js';
import { migrateNodeRows } from './orchestrator/nodes.js';
import { ApiError } from './api/http.js';
import { Router, type Ctx, type Peer, type RouteOptions } from './api/router.js';
import { registerObjectRoutes } from './api/objects.js';
import { registerSystemRoutes } from './api/system.js';
import { registerSwarmRoutes } from './api/swarm.js';
import { registerSwarmObjectRoutes } from './api/services.js';
import { registerDistributionRoutes } from './api/distribution.js';
import { registerNetworkRoutes } from './api/networks.js';
import { registerContainerRoutes, type ExecUpgrade } from './api/containers.js';
import { registerServiceLogRoutes } from './api/service-logs.js';
import { NO_RULES, type RegistryRules } from '../shared/registry-rules.js';
import { Orchestrator } from './orchestrator/loop.js';
import { Dispatcher, DEFAULT_HEARTBEAT_MS, SESSION_PATH } from './dispatcher/dispatcher.js';
import { JOIN_PATHS, registerJoinRoutes } from './dispatcher/join.js';
import { registerBackupRoute } from './api/backup.js';
import { registerAdvertiseRoutes, type AdvertiseInfo } from './api/advertise.js';
import { advertiseMismatch } from './cluster/advertise.js';
import { makeBackup } from './cluster/backup.js';
import { closeServer, listenTls, listenUnix, parseListenAddr, tlsPeer, type ListenAddr } from './api/listeners.js';
import { startMetricsServer, type MetricsServer } from '../shared/metrics/server.js';
import { managerRegistry, storeCommitSeconds, storeCommittedWrites } from './metrics.js';

export const LOCKED_MESSAGE =
  'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';

export interface ManagerOptions {
  stateDir: string;
  socketPath: string;
  listen: string | null; // null: no TCP listener
  /** HOST:PORT for /metrics, /healthz and /readyz (plain HTTP; a local address); absent: none. */
  metricsListen?: string | null;
  log: Logger;
  /** Also shows an operator warning outside the log (the CLI writes it to stderr as "Warning: …"). */
  warn?: (message: string) => void;
  /** --insecure-registry / --registry-mirror, for GET /distribution (default: loopback registries insecure, no mirror). */
  registry?: RegistryRules;
  /** Other managers' agent addresses (HOST:PORT), told to agents with this one's (the welcome's managers list). */
  peerManagers?: string[];
}

interface Unlocked {
  cluster: OpenCluster;
  store: Store;
  orchestrator: Orchestrator;
  dispatcher: Dispatcher;
  certs: NodeCerts;
  /** --store etcd: the local member and the leader election; null with SQLite. */
  etcd: LocalEtcdBackend | null;
}

/** The agents' heartbeat period: the cluster's (manager init --dispatcher-heartbeat), else 5 s;
 * RUNSECRETS_HEARTBEAT_MS overrides both (tests use a short one). */
function heartbeatMs(config: ClusterConfig): number {
  const v = Number(process.env.RUNSECRETS_HEARTBEAT_MS ?? config.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
  if (!Number.isSafeInteger(v) || v < 50) throw new Error(`invalid RUNSECRETS_HEARTBEAT_MS "${process.env.RUNSECRETS_HEARTBEAT_MS ?? ''}": expected milliseconds, at least 50`);
  return v;
}

export class Manager {
  private open: Unlocked | null = null;
  private config: ClusterConfig;
  private readonly revoked: RevocationList;
  private readonly adminCerts: AdminCertRegistry;
  private readonly router: Router;
  private unixServer: http.Server | null = null;
  private tlsServer: https.Server | null = null;
  private readonly listenAddr: ListenAddr | null;
  private unlocking: Promise<void> | null = null;
  private metricsServer: MetricsServer | null = null;
  private readonly execUpgrade: ExecUpgrade;

  constructor(private readonly opts: ManagerOptions) {
    this.config = readClusterConfig(opts.stateDir);
    nodeCertValidityMs(this.config); // a bad RUNSECRETS_NODE_CERT_EXPIRY_MS fails the start, not a join
    this.revoked = new RevocationList(opts.stateDir);
    this.adminCerts = new AdminCertRegistry(opts.stateDir);
    this.listenAddr = opts.listen ? parseListenAddr(opts.listen) : null;
    this.router = new Router(opts.log, (ctx, ro) => this.gate(ctx, ro));
    registerSystemRoutes(this.router, {
      locked: () => this.open === null,
      config: () => this.open?.cluster.config ?? this.config,
      tlsInfo: () => this.open?.certs.swarmTlsInfo() ?? null,
      workerCount: async () => (this.open ? (await this.open.store.list('node')).length : null),
    });
    registerSwarmRoutes(this.router, {
      cluster: () => this.unlocked().cluster,
      adminCerts: () => this.adminCerts,
      revoke: (serial) => this.revoked.revoke(serial),
      isRevoked: (serial) => this.revoked.isRevoked(serial),
      locked: () => this.open === null,
      unlock: (key) => this.unlock(key),
      settingsChanged: () => this.settingsChanged(),
      tlsInfo: () => this.unlocked().certs.swarmTlsInfo(),
      rotateRoot: async (given) => {
        const { certs } = this.unlocked();
        await certs.startRotation(given);
        this.serveCurrentCerts(); // both roots trusted from now on
      },
    });
    registerObjectRoutes(this.router, 'secret', () => this.unlocked().store);
    registerObjectRoutes(this.router, 'config', () => this.unlocked().store);
    registerSwarmObjectRoutes(this.router, {
      store: () => this.unlocked().store,
      cluster: () => this.unlocked().cluster,
      revoke: (serial) => this.revoked.revoke(serial),
    });
    registerNetworkRoutes(this.router, { store: () => this.unlocked().store, cluster: () => this.unlocked().cluster.config });
    registerJoinRoutes(this.router, { cluster: () => this.unlocked().cluster, store: () => this.unlocked().store });
    registerBackupRoute(this.router, { backup: () => this.backup() });
    registerDistributionRoutes(this.router, { rules: () => this.opts.registry ?? NO_RULES });
    const nodes = { store: () => this.unlocked().store, tunnels: () => this.unlocked().dispatcher, log: opts.log.child({ part: 'containers' }) };
    this.execUpgrade = registerContainerRoutes(this.router, nodes);
    registerServiceLogRoutes(this.router, nodes);
    registerAdvertiseRoutes(this.router, {
      info: () => this.advertiseInfo(),
      set: (addr) => void this.unlocked().cluster.setAdvertiseAddr(addr),
    });
  }

  /** Swarm settings were applied (POST /swarm/update): what runs picks them up now. */
  private settingsChanged(): void {
    const open = this.open;
    if (!open) return;
    this.config = open.cluster.config;
    open.dispatcher.setHeartbeat(heartbeatMs(this.config));
    open.orchestrator.kick(); // the task history limit
  }

  /** The TLS listener serves the manager's current certificate and trusts the current roots (both during a root
   * rotation, the new one only after it): for new connections; those open keep theirs. */
  private serveCurrentCerts(): void {
    const c = this.open?.cluster;
    if (!c || !this.tlsServer) return;
    this.tlsServer.setSecureContext({ cert: c.serverCertPem, key: c.serverKeyPem, ca: [c.trustBundle], minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
  }

  /** The advertise address against the TLS listener (manager/cluster/advertise.ts). */
  private advertiseInfo(): AdvertiseInfo {
    const advertise = (this.open?.cluster.config ?? this.config).advertiseAddr;
    const port = this.tcpPort;
    if (!this.listenAddr || port === null) return { AdvertiseAddr: advertise, Listen: null, Warning: null };
    const listen = { host: this.listenAddr.host, port };
    return { AdvertiseAddr: advertise, Listen: `${listen.host}:${port}`, Warning: advertiseMismatch(advertise, listen) };
  }

  /** The managers agents are told about: this one (its advertise address and node ID), then --peer-manager. */
  private managerEntries(): ManagerEntry[] {
    const own = (this.open?.cluster.config ?? this.config).advertiseAddr;
    const peers = (this.opts.peerManagers ?? []).filter((a) => a !== own).map((addr) => ({ addr }));
    return [{ addr: own, nodeId: this.config.nodeId }, ...peers].filter((e) => isWelcomeManagerAddr(e.addr));
  }

  /** A backup of the open state (manager/cluster/backup.ts). */
  private backup(): { bytes: Buffer; index: number } {
    const { cluster, store } = this.unlocked();
    if (!(store instanceof SqliteStore)) {
      throw new ApiError(400, 'manager backup: this cluster keeps its objects on etcd (manager init --store etcd), which "manager backup" does not back up yet; stop the manager and copy its whole state dir, or take an etcd snapshot (etcdctl snapshot save) with the member certificate in STATE-DIR/etcd/tls');
    }
    const { bytes, header } = makeBackup(this.opts.stateDir, cluster.config, cluster.dek, store);
    return { bytes, index: header.index };
  }

  private unlocked(): Unlocked {
    if (!this.open) throw new ApiError(503, LOCKED_MESSAGE);
    return this.open;
  }

  /** Access rules, checked before any handler: certificate role first, then the lock. */
  /** Upgrades on the TLS port: the agents' sessions, and docker exec's attached start for admin certificates. */
  private tlsUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, dispatcher: Dispatcher): void {
    if ((req.url ?? '').split('?')[0] === SESSION_PATH) return dispatcher.handleUpgrade(req, socket, head);
    const peer = tlsPeer(req.socket as TLSSocket, (s) => this.revoked.isRevoked(s));
    if (!peer) return dispatcher.handleUpgrade(req, socket, head); // refuses it, logged, as any bad session
    try {
      this.gatePeer(peer, {});
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 500;
      const body = JSON.stringify({ message: errorMessage(err) }) + '\n';
      socket.end(`HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    if (!this.execUpgrade.handle(req, socket, head)) dispatcher.handleUpgrade(req, socket, head);
  }

  private gate(ctx: Ctx, ro: RouteOptions): void {
    this.gatePeer(ctx.peer, ro);
  }

  private gatePeer(p: Peer, ro: RouteOptions): void {
    if (p.transport === 'tls' && !ro.anyRole && p.role !== 'admin' && p.role !== 'manager') {
      throw new ApiError(
        403,
        `permission denied: a ${p.role ?? 'unknown-role'} certificate (node ${p.nodeId}) can't be used to view or modify cluster state; use an admin certificate`,
      );
    }
    // Only this manager's own certificate is a manager's: another with OU swarm-manager (e.g. minted by the manager
    // join token before such joins were refused) must not read the join tokens or the unlock key.
    if (p.transport === 'tls' && !ro.anyRole && p.role === 'manager' && p.nodeId !== this.config.nodeId) {
      throw new ApiError(403, `permission denied: a manager certificate of another node (${p.nodeId}) can't be used to view or modify cluster state; use an admin certificate`);
    }
    if (this.open === null && !ro.anyRole && !ro.whileLocked) throw new ApiError(503, LOCKED_MESSAGE);
  }

  /** The open store and orchestrator (null while locked): for the dispatcher, and for in-process tests. */
  get state(): { store: Store; orchestrator: Orchestrator } | null {
    return this.open ? { store: this.open.store, orchestrator: this.open.orchestrator } : null;
  }

  get locked(): boolean {
    return this.open === null;
  }

  get tcpPort(): number | null {
    const a = this.tlsServer?.address() as AddressInfo | null | undefined;
    return a ? a.port : null;
  }

  async start(): Promise<void> {
    if (!this.config.autolock) await this.unlock();
    else {
      // The first run after `init --autolock` is unlocked, as Docker's swarm is until its next restart.
      const key = takeFirstRunUnlockKey(this.opts.stateDir);
      if (key !== null) {
        await this.unlock(key);
        this.opts.log.info('first run after init: unlocked with the key init left (deleted now); later starts are locked');
      }
    }
    this.unixServer = await listenUnix(this.router, this.opts.socketPath, this.opts.log);
    // docker exec's attached start (Upgrade: tcp) is a raw connection to the node (api/containers.ts).
    this.unixServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!this.execUpgrade.handle(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    this.opts.log.info({ socket: this.opts.socketPath, locked: this.locked, clusterId: this.config.clusterId }, 'manager listening on unix socket');
    if (this.locked) this.opts.log.warn('swarm is locked: waiting for "runsecrets manager unlock"');
    if (this.opts.metricsListen) {
      const registry = managerRegistry({
        store: () => this.open?.store ?? null,
        locked: () => this.locked,
        sessions: () => this.open?.dispatcher.sessionCount ?? 0,
        heartbeatAges: () => this.open?.dispatcher.heartbeatAges() ?? [],
        heartbeatPeriodSeconds: () => (this.open?.dispatcher.heartbeatMs ?? heartbeatMs(this.config)) / 1000,
      });
      // Ready means it can serve the API: not while locked.
      const notReady = (): string | null => (this.open ? null : 'locked: waiting for "runsecrets manager unlock"');
      this.metricsServer = await startMetricsServer({ listen: this.opts.metricsListen, registry, notReady, log: this.opts.log });
    }
  }

  /** The embedded store (store.db); RUNSECRETS_STORE_WRITER=inline commits on the main thread (for comparison). */
  private openSqlite(cluster: OpenCluster): SqliteStore {
    const writer = process.env.RUNSECRETS_STORE_WRITER === 'inline' ? 'inline' : 'thread';
    return new SqliteStore({
      path: cluster.storePath,
      dek: cluster.dek,
      writer,
      onCommit: (seconds, writes) => {
        storeCommitSeconds.observe(seconds);
        storeCommittedWrites.inc({}, writes);
      },
    });
  }

  /** Opens the data key (with the unlock key under autolock), the store, then the TLS listener. */
  unlock(key?: string): Promise<void> {
    if (this.open) return Promise.resolve();
    // One unlock at a time: a second concurrent caller waits for the first and then sees the result.
    const run = async (): Promise<void> => {
      if (this.open) return;
      const cluster = await OpenCluster.open(this.opts.stateDir, key);
      // The data key is open (unlocked) before either store opens: both seal with it.
      const etcdChoice = etcdStoreOf(cluster.config);
      const etcd = etcdChoice ? await openLocalEtcd(cluster, etcdChoice, this.opts.log.child({ part: 'etcd-store' })) : null;
      try {
        await this.serve(cluster, etcd);
      } catch (err) {
        // A half-started etcd manager: its member (a child process) must not outlive the failed start.
        if (etcd) await this.abandonStart(etcd);
        throw err;
      }
    };
    const p = (this.unlocking ?? Promise.resolve()).then(run, run);
    this.unlocking = p.catch(() => undefined);
    return p.catch((err) => {
      if (err instanceof InvalidUnlockKeyError) {
        this.opts.log.warn('unlock refused: invalid key');
        throw new ApiError(401, err.message); // moby: invalidUnlockKey is Unauthorized
      }
      throw err;
    });
  }

  /** Undoes a start that failed after the etcd store opened: sessions and orchestrator, then elector, store, member. */
  private async abandonStart(etcd: LocalEtcdBackend): Promise<void> {
    const half = this.open;
    this.open = null;
    await half?.dispatcher.stop();
    await half?.orchestrator.stop();
    await etcd.close();
  }

  /** Opens the rest on the open store: orchestrator, dispatcher, certificates, then the TLS listener. */
  private async serve(cluster: OpenCluster, etcd: LocalEtcdBackend | null): Promise<void> {
    const store: Store = etcd ? etcd.store : this.openSqlite(cluster);
    // With etcd the orchestrator and the judgement of missed heartbeats run only while this manager leads.
    const leads = etcd ? () => etcd.elector.isLeader : () => true;
    const orchestrator = new Orchestrator(store, this.opts.log.child({ part: 'orchestrator' }), () => this.open?.cluster.config.taskHistory, leads);
    let dispatcher: Dispatcher | null = null;
    const certs = new NodeCerts({
      cluster: () => cluster,
      store,
      log: this.opts.log.child({ part: 'certs' }),
      send: (id, m) => dispatcher?.sendCert(id, m) ?? false,
      connected: () => dispatcher?.connectedNodes() ?? [],
      rotated: () => {
        this.config = cluster.config; // the new CA digest
        this.serveCurrentCerts();
      },
    });
    dispatcher = new Dispatcher({
      store,
      log: this.opts.log.child({ part: 'dispatcher' }),
      isRevoked: (s) => this.revoked.isRevoked(s),
      heartbeatMs: heartbeatMs(this.config),
      managers: () => this.managerEntries(),
      ...(etcd ? { judgesHeartbeats: leads } : {}),
      certs: {
        renew: (id, role, csr) => certs.renew(id, role, csr),
        reportState: (id, cert, trust) => certs.reportState(id, cert, trust),
        nodeRemoved: () => certs.checkRotation(),
      },
    });
    // Before anything reads nodes: labels that joiners chose become engine labels (nodes.ts).
    const migrated = await migrateNodeRows(store);
    if (migrated.length > 0) this.opts.log.warn({ nodes: migrated }, 'node labels set by the nodes themselves moved to engine labels; set node labels again with "node update --label-add"');
    this.open = { cluster, store, orchestrator, dispatcher, certs, etcd };
    this.opts.log.info({ index: await store.currentIndex(), backend: store.backend }, 'store opened');
    await orchestrator.start();
    await dispatcher.start();
    if (etcd) {
      // Elected: plan from the stored state (a run asked for while not leading was dropped).
      etcd.elector.onLeaderChange((st) => {
        if (st.isLeader) orchestrator.kick();
      });
      etcd.elector.start();
    }
    // A rotation in progress when the manager stopped: it may be complete already (every node moved).
    if (cluster.next) certs.checkRotation();
    if (this.listenAddr) {
      try {
        this.tlsServer = await listenTls(
          this.router,
          this.listenAddr,
          {
            certPem: cluster.serverCertPem,
            keyPem: cluster.serverKeyPem,
            caPem: cluster.trustBundle,
            isRevoked: (s) => this.revoked.isRevoked(s),
            openPaths: JOIN_PATHS,
          },
          this.opts.log,
        );
        this.tlsServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.tlsUpgrade(req, socket, head, dispatcher));
        this.opts.log.info({ host: this.listenAddr.host, port: this.tcpPort }, 'manager listening on TCP with mutual TLS');
        const { Warning, AdvertiseAddr, Listen } = this.advertiseInfo();
        if (Warning) {
          this.opts.log.warn({ advertiseAddr: AdvertiseAddr, listen: Listen }, Warning);
          if (this.opts.warn) this.opts.warn(Warning);
        }
      } catch (err) {
        throw new Error(`cannot listen on TCP ${this.opts.listen ?? ''}: ${errorMessage(err)}`);
      }
    }
  }

  async stop(): Promise<void> {
    // etcd: leave the election first, so that another manager can lead at once.
    if (this.open?.etcd) await this.open.etcd.leaveElection();
    // Sessions first: upgraded sockets are not closed by the HTTP server and would hold its close open.
    if (this.open) await this.open.dispatcher.stop();
    const closing: Promise<void>[] = [];
    if (this.unixServer) closing.push(closeServer(this.unixServer));
    if (this.metricsServer) closing.push(this.metricsServer.close());
    if (this.tlsServer) closing.push(closeServer(this.tlsServer));
    await Promise.all(closing);
    if (this.open) {
      await this.open.orchestrator.stop();
      const st = this.open.store;
      if (this.open.etcd) await this.open.etcd.close(); // the store, then the member
      else await st.close();
      if (st instanceof SqliteStore) this.opts.log.info(st.stats(), 'store closed');
    }
    this.open = null;
    if (this.unixServer && existsSync(this.opts.socketPath)) unlinkSync(this.opts.socketPath);
    this.opts.log.info('manager stopped');
  }
}
