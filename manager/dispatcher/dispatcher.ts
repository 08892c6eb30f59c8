// One WebSocket session per agent over the manager's mutual-TLS listener. The node is the certificate's CN, never
// anything a message says. After a commit that touches its node's tasks (node-tasks.ts), or secrets, configs or
// nodes, a session computes its node's desired state (assignments.ts) and sends only the difference; right after
// connecting it sends the whole state (full resync). Heartbeats keep nodes ready; 3 missed periods mark a node down.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { Logger } from '../../shared/log.js';
import { parseSubject, roleFromOu, type Role } from '../../shared/pki.js';
import { errorMessage } from '../../shared/errors.js';
import { LogLimiter } from '../../shared/log-limit.js';
import { refusedRequests } from '../metrics.js';
import {
  MAX_AGENT_FRAME_BYTES,
  ProtocolError,
  encodeFrame,
  encodeStreamFrame,
  parseAgentMessage,
  type AgentMessage,
  type ManagerEntry,
  type CertAgentMessage,
  type CertManagerMessage,
  type ObjectData,
  type TaskAssignment,
} from '../../shared/protocol.js';
import type { Store, Stored, StoredObject, Unwatch } from '../store/types.js';
import { StoreClosedError } from '../store/errors.js';
import { isAccepted, isTaskState, stateRank } from '../orchestrator/types.js';
import { reportTaskStatus, setNodeState, type StatusReport } from '../orchestrator/nodes.js';
import { isNodeTask, referencedObjects, toAssignment, withRegistryAuth } from './assignments.js';
import { NodeTasks } from './node-tasks.js';
import { TunnelMux, type TunnelStream } from '../../shared/tunnel.js';

export const SESSION_PATH = '/runsecrets/session';
export const DEFAULT_HEARTBEAT_MS = 5000;
export const MISSED_HEARTBEATS = 3;
/** After a manager start, nodes get this long (beyond the missed heartbeats) to come back: agents that lost the
 * manager retry with backoff (at most 5 s apart), and a restart must not make their tasks move. */
export const STARTUP_GRACE_MS = 6000;

/** Node certificate messages of a session (manager/pki/node-certs.ts): each answer goes back on that session. */
export interface SessionCerts {
  renew(nodeId: string, role: Role | null, csr: string): Promise<CertManagerMessage>;
  reportState(nodeId: string, cert: string, trust: string[]): Promise<CertManagerMessage | null>;
  /** A node was removed: a rotation may be complete now. */
  nodeRemoved(): void;
}

export interface DispatcherOptions {
  store: Store;
  log: Logger;
  isRevoked(serial: string): boolean;
  heartbeatMs?: number;
  /** The managers agents are told about in the welcome (they keep the list and fail over along it); absent: none. */
  managers?: () => ManagerEntry[];
  certs?: SessionCerts;
  /** Whether this manager judges missed heartbeats now (with etcd: while it leads); absent: always. */
  judgesHeartbeats?: () => boolean;
}

export class Dispatcher {
  /** Agents send heartbeats and small status messages: a larger frame is refused from its header, unbuffered. */
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_AGENT_FRAME_BYTES, perMessageDeflate: false });
  private readonly sessions = new Map<string, Session>();
  private readonly nodeTasks = new NodeTasks();
  private readonly refusals = new LogLimiter();
  /** When each node was last heard from (nodes never heard from since start: the start time). */
  private readonly lastSeen = new Map<string, number>();
  private readonly startedAt = Date.now();
  private unwatch: Unwatch | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastCheckAt = Date.now();
  private period: number;
  /** After a shorter period is set, agents are judged by the longer one until this time (they switch on receipt). */
  private lenientUntil = 0;
  private lenientMs = 0;

  constructor(private readonly opts: DispatcherOptions) {
    this.period = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  }

  get heartbeatMs(): number {
    return this.period;
  }

  /**
   * A new heartbeat period (the swarm's Dispatcher.HeartbeatPeriod): every connected agent is told on its session,
   * and until MISSED_HEARTBEATS old periods have passed agents are judged by the longer of the two, so that none
   * is marked down for heartbeating at the old pace before it heard of the new one.
   */
  setHeartbeat(ms: number): void {
    if (ms === this.period) return;
    const old = this.period;
    this.period = ms;
    this.lenientMs = Math.max(old, ms);
    this.lenientUntil = Date.now() + (MISSED_HEARTBEATS + 1) * old;
    for (const s of this.sessions.values()) s.send(encodeFrame({ type: 'heartbeat-period', heartbeatMs: ms }));
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = setInterval(() => void this.checkHeartbeats(), ms);
      this.timer.unref();
    }
    this.opts.log.info({ heartbeatMs: ms, previousMs: old }, 'heartbeat period changed');
  }

  async start(): Promise<void> {
    const st = this.opts.store;
    const from = await st.currentIndex();
    this.nodeTasks.load(await st.list('task'));
    this.unwatch = await st.watch(from, (e) => {
      if (e.kind === 'node' && e.action === 'delete') {
        this.sessions.get(e.id)?.close(4003, 'node removed');
        this.lastSeen.delete(e.id);
        this.opts.certs?.nodeRemoved();
      }
      // A node that just joined is ready before it opens its session (seconds later on a loaded host): its join
      // counts as hearing from it. Judged from the manager's start instead, it went down at the next check.
      if (e.kind === 'node' && e.action === 'create') this.lastSeen.set(e.id, Date.now());
      if (e.kind === 'node' && e.action === 'update') this.sessions.get(e.id)?.kick(); // e.g. accepted: now it gets its tasks
      // A task concerns the node it names (and the one it left) only.
      if (e.kind === 'task') for (const n of this.nodeTasks.apply(e)) this.sessions.get(n)?.kick();
      // A service update may carry new registry credentials (--with-registry-auth) for tasks that keep running.
      if (e.kind === 'secret' || e.kind === 'config' || (e.kind === 'service' && e.action === 'update')) for (const s of this.sessions.values()) s.kick();
    });
    this.lastCheckAt = Date.now();
    this.timer = setInterval(() => void this.checkHeartbeats(), this.heartbeatMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    if (this.timer) clearInterval(this.timer);
    for (const s of this.sessions.values()) s.close(1001, 'manager stopping');
    this.wss.close();
  }

  /** Nodes with a session now (the container routes ask each of them). */
  connectedNodes(): string[] {
    return [...this.sessions.keys()];
  }

  /** Sends a node certificate message on the node's session; false when it has none. */
  sendCert(nodeId: string, msg: CertManagerMessage): boolean {
    const s = this.sessions.get(nodeId);
    if (!s) return false;
    s.send(encodeFrame(msg));
    return true;
  }

  /** A byte stream to the node's Engine API (shared/tunnel.ts); null when it has no session or too many streams. */
  openStream(nodeId: string): TunnelStream | null {
    return this.sessions.get(nodeId)?.openStream() ?? null;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Seconds since each connected agent was last heard from (metrics: heartbeat lag). */
  heartbeatAges(now = Date.now()): number[] {
    return [...this.sessions.keys()].map((id) => (now - (this.lastSeen.get(id) ?? now)) / 1000);
  }

  private async checkHeartbeats(): Promise<void> {
    // Timers run before pending reads: after a stall of this process (GC, a long synchronous task), heartbeats that
    // arrived meanwhile are still unread. Read them first (setImmediate runs after the I/O phase); and when this
    // process itself was away for more than a period, nobody could be heard: judge at the next round.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const now = Date.now();
    const period = now < this.lenientUntil ? this.lenientMs : this.period;
    const stalled = now - this.lastCheckAt > 2 * period;
    this.lastCheckAt = now;
    if (stalled) return;
    if (this.opts.judgesHeartbeats && !this.opts.judgesHeartbeats()) return;
    const limit = now - MISSED_HEARTBEATS * period;
    try {
      for (const n of await this.opts.store.list('node')) {
        if (n.spec.Status.State !== 'ready') continue;
        // Never heard from since this start: from the start's grace, or from its join when it joined since.
        if ((this.lastSeen.get(n.id) ?? Math.max(this.startedAt + STARTUP_GRACE_MS, Date.parse(n.createdAt) || 0)) >= limit) continue;
        this.opts.log.warn({ node: n.id }, `node down: no heartbeat for ${MISSED_HEARTBEATS} periods`);
        this.sessions.get(n.id)?.close(4000, 'heartbeat timeout');
        await setNodeState(this.opts.store, n.id, 'down', 'heartbeat failure');
      }
    } catch (err) {
      if (!(err instanceof StoreClosedError)) this.opts.log.error({ err: errorMessage(err) }, 'heartbeat check failed');
    }
  }

  /** The TLS server's 'upgrade' handler: only valid, unrevoked node certificates of a known node get a session. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const tls = req.socket as TLSSocket;
    const refuse = (status: number, why: string): void => {
      // Anyone who reaches the port can cause this line: rate-limited. cert: OpenSSL's verdict on the client's.
      refusedRequests.inc({ reason: 'session' });
      const ok = this.refusals.allow('session');
      const cert = tls.authorizationError ? { cert: String(tls.authorizationError) } : {};
      if (ok) this.opts.log.warn({ remote: req.socket.remoteAddress, why, ...cert, ...(ok.suppressed ? { suppressed: ok.suppressed } : {}) }, 'session refused');
      socket.end(`HTTP/1.1 ${status} ${why}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const path = (req.url ?? '').split('?')[0];
    if (path !== SESSION_PATH) return refuse(404, 'Not Found');
    if (!tls.authorized) return refuse(401, 'Unauthorized');
    const cert = tls.getPeerCertificate();
    const serial = cert?.serialNumber ?? '';
    if (!serial || this.opts.isRevoked(serial)) return refuse(401, 'Unauthorized');
    const s = parseSubject(`CN=${cert.subject?.CN ?? ''}\nOU=${cert.subject?.OU ?? ''}`);
    const role = roleFromOu(s.OU);
    const nodeId = s.CN ?? '';
    if ((role !== 'worker' && role !== 'manager') || !nodeId) return refuse(403, 'Forbidden');
    void this.opts.store.get('node', nodeId).then(
      (node) => {
        if (!node) return refuse(403, 'Forbidden');
        this.wss.handleUpgrade(req, socket, head, (ws) => this.open(nodeId, role, ws));
      },
      (err: unknown) => refuse(503, `Service Unavailable: ${errorMessage(err)}`),
    );
  }

  private open(nodeId: string, role: Role, ws: WebSocket): void {
    // One session per node: a new connection replaces the old one (the agent reconnected).
    this.sessions.get(nodeId)?.close(4001, 'replaced by a newer session');
    const log = this.opts.log.child({ node: nodeId });
    const session = new Session(nodeId, role, ws, this.opts.store, log, this.opts.certs, () => this.nodeTasks.tasksOf(nodeId));
    this.sessions.set(nodeId, session);
    this.lastSeen.set(nodeId, Date.now());
    log.info('agent session opened');
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.lastSeen.set(nodeId, Date.now());
      if (!isBinary) return session.close(1003, 'binary frames only');
      void session.onMessage(data as Buffer);
    });
    ws.on('close', () => {
      if (this.sessions.get(nodeId) === session) this.sessions.delete(nodeId);
      log.info('agent session closed');
    });
    ws.on('error', (err) => log.warn({ err: err.message }, 'agent session error'));
    const managers = this.opts.managers?.();
    session.send(encodeFrame({ type: 'welcome', nodeId, heartbeatMs: this.heartbeatMs, ...(managers && managers.length > 0 ? { managers } : {}), ...(this.opts.certs ? { certs: true } : {}) }));
    void (async () => {
      try {
        const cur = await this.opts.store.get('node', nodeId);
        if (cur && cur.spec.Status.State !== 'ready') await setNodeState(this.opts.store, nodeId, 'ready');
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'cannot mark the node ready');
      }
    })();
    session.kick();
  }
}

class Session {
  /** What the node has from us: task ID -> assignment signature; "kind/id" -> object version. */
  private readonly sentTasks = new Map<string, string>();
  private readonly sentObjects = new Map<string, number>();
  private full = true;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private readonly mux = new TunnelMux({
    send: (m) => {
      if (this.closed) return false;
      this.send(encodeStreamFrame(m));
      return true;
    },
  });

  constructor(
    private readonly nodeId: string,
    private readonly role: Role,
    private readonly ws: WebSocket,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly certs: SessionCerts | undefined,
    /** The IDs of the tasks that name this node (NodeTasks). */
    private readonly taskIds: () => string[],
  ) {
    ws.on('close', () => {
      this.closed = true;
      this.mux.closeAll(`the session of node ${nodeId} closed`);
    });
  }

  openStream(): TunnelStream | null {
    if (this.closed) return null;
    const s = this.mux.open();
    if (s) this.send(encodeStreamFrame({ type: 'stream-open', stream: s.id }));
    return s;
  }

  /** Sends a frame, then zeroes it once written: ws keeps a reference to it until then. */
  send(frame: Buffer): void {
    if (this.closed) return void frame.fill(0);
    this.ws.send(frame, { binary: true }, () => frame.fill(0));
  }

  close(code: number, reason: string): void {
    this.closed = true;
    // A close reason is at most 123 bytes (ws throws beyond): printable ASCII only, so that the cut is by bytes.
    // It may quote what the agent sent (an unknown type's name), so an agent must never make it throw.
    this.ws.close(code, reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 123));
    // A peer that does not answer the close handshake is cut off.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  /** Asks for a sync; requests during one coalesce into one more (no fixed delay: it runs as soon as it can). */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.sync();
        } catch (err) {
          if (!(err instanceof StoreClosedError)) this.log.error({ err: errorMessage(err) }, 'sync failed');
        }
      } while (this.again && !this.closed);
      this.running = null;
    })();
  }

  private async sync(): Promise<void> {
    // A pending node (join approval) gets nothing, even if a task named it: the scheduler skips it too.
    const node = await this.store.get('node', this.nodeId);
    const member = !!node && isAccepted(node.spec);
    const mine: Stored<'task'>[] = [];
    for (const id of member ? this.taskIds() : []) {
      const t = await this.store.get('task', id);
      if (t && isNodeTask(t, this.nodeId)) mine.push(t);
    }
    const pullAuth = new Map(mine.length === 0 ? [] : (await this.store.list('service')).map((s) => [s.id, s.spec.pullAuth]));
    // A service's registry credentials go to this node only with the assignments of the tasks of it that it runs.
    const tasks = mine.map((t) => withRegistryAuth(toAssignment(t), pullAuth.get(t.spec.ServiceID)));
    const wanted = referencedObjects(tasks);
    const objects: ObjectData[] = [];
    const blobs: Buffer[] = [];
    const removeObjects: { kind: 'secret' | 'config'; id: string }[] = [];
    for (const key of wanted) {
      const [kind, id] = key.split('/') as ['secret' | 'config', string];
      const o = await this.store.get(kind, id);
      if (!o) continue; // removal is refused while in use; a vanished object simply is not sent
      if (!this.full && this.sentObjects.get(key) === o.version) continue;
      const d: ObjectData = { kind, id, version: o.version, blob: blobs.length };
      if (o.spec.Templating) d.templating = o.spec.Templating.Name; // rendered per task by the agent
      objects.push(d);
      blobs.push(Buffer.from(o.spec.Data, 'base64'));
      this.sentObjects.set(key, o.version);
    }
    for (const key of [...this.sentObjects.keys()]) {
      if (wanted.has(key)) continue;
      const [kind, id] = key.split('/') as ['secret' | 'config', string];
      removeObjects.push({ kind, id });
      this.sentObjects.delete(key);
    }
    const changed: TaskAssignment[] = [];
    const seen = new Set<string>();
    for (const a of tasks) {
      seen.add(a.id);
      const sig = JSON.stringify({ ...a, version: 0 });
      if (!this.full && this.sentTasks.get(a.id) === sig) continue;
      changed.push(a);
      this.sentTasks.set(a.id, sig);
    }
    const removeTasks = [...this.sentTasks.keys()].filter((id) => !seen.has(id));
    for (const id of removeTasks) this.sentTasks.delete(id);
    const full = this.full;
    this.full = false;
    if (!full && changed.length === 0 && removeTasks.length === 0 && objects.length === 0 && removeObjects.length === 0) return;
    this.log.debug({ full, tasks: changed.length, removeTasks: removeTasks.length, objects: objects.length, removeObjects: removeObjects.length }, 'assignments sent');
    try {
      this.send(encodeFrame({ type: 'assign', full, tasks: changed, removeTasks, objects, removeObjects }, blobs));
    } finally {
      for (const b of blobs) b.fill(0); // the frame holds its own copy
    }
  }

  /** The node's identity is the session's (its certificate's), never anything the message says. */
  private async onCert(msg: CertAgentMessage): Promise<void> {
    if (!this.certs) return;
    try {
      const answer = msg.type === 'cert-request' ? await this.certs.renew(this.nodeId, this.role, msg.csr) : await this.certs.reportState(this.nodeId, msg.cert, msg.trust);
      if (answer) this.send(encodeFrame(answer));
    } catch (err) {
      if (!(err instanceof StoreClosedError)) this.log.error({ err: errorMessage(err) }, 'node certificate message failed');
    }
  }

  async onMessage(frame: Buffer): Promise<void> {
    let msg: AgentMessage;
    try {
      msg = parseAgentMessage(frame);
    } catch (err) {
      this.log.warn({ err: errorMessage(err).slice(0, 200) }, 'bad frame from agent');
      return this.close(1002, err instanceof ProtocolError ? err.message : 'bad frame');
    }
    if (msg.type === 'heartbeat') {
      this.send(encodeFrame({ type: 'heartbeat-ack' }));
      return;
    }
    if (msg.type === 'cert-request' || msg.type === 'tls-state') return this.onCert(msg);
    if (msg.type !== 'status') {
      this.mux.receive(msg);
      return;
    }
    if (!isTaskState(msg.state)) {
      this.log.warn({ why: 'unknown state', state: msg.state }, 'invalid task status from agent: ignored');
      return;
    }
    const r: StatusReport = { state: msg.state };
    if (msg.message !== undefined) r.message = msg.message;
    if (msg.err !== undefined) r.err = msg.err;
    if (msg.exitCode !== undefined) r.exitCode = msg.exitCode;
    // The latest report of each task wins (states only move on), as in swarmkit's dispatcher. Applied one at a
    // time per task: an agent sends preparing, ready, starting and running back to back, and applied at once they
    // raced for the same version; the losers retried, and with 1,000 tasks starting the retries (and the errors
    // built for them) kept the manager's thread busy for seconds while heartbeats waited.
    const prev = this.statuses.get(msg.taskId);
    if (!prev || stateRank(r.state) >= stateRank(prev.state)) this.statuses.set(msg.taskId, r);
    this.flushStatuses();
  }

  private readonly statuses = new Map<string, StatusReport>();
  private flushing = false;

  /** Applies the pending reports, each task's latest, a batch at a time (one commit group). */
  private flushStatuses(): void {
    if (this.flushing) return;
    this.flushing = true;
    void (async () => {
      try {
        while (this.statuses.size > 0) {
          const batch = [...this.statuses];
          this.statuses.clear();
          await Promise.all(batch.map(([id, r]) => this.applyStatus(id, r)));
        }
      } finally {
        this.flushing = false;
      }
    })();
  }

  private async applyStatus(taskId: string, r: StatusReport): Promise<void> {
    try {
      const t = await this.store.get('task', taskId);
      // A node reports only its own tasks: its identity is the certificate's, never the message's.
      if (!t || t.spec.NodeID !== this.nodeId) {
        this.log.warn({ task: taskId }, "status for a task that is not this node's: ignored");
        return;
      }
      await reportTaskStatus(this.store, taskId, r);
    } catch (err) {
      if (!(err instanceof StoreClosedError)) this.log.error({ err: errorMessage(err), task: taskId }, 'cannot record task status');
    }
  }
}

export type { StoredObject };
