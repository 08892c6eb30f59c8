// The agent's one session with the manager: a WebSocket over mutual TLS (the node certificate is our identity),
// heartbeats, and reconnection with jittered exponential backoff. Each (re)connection starts with the manager's
// full state, which the owner applies as a difference; messages are handled one at a time, in order.
//
// Partitions (a link down, a dead manager host): TCP gives no error while packets are dropped, and after a long cut
// its retransmission backoff can leave a surviving connection silent for tens of seconds after the link heals. So
// a connection whose answers stop is dropped (at most ANSWER_TIMEOUT_MAX_MS), a TCP connect that gets no answer is
// abandoned after CONNECT_TIMEOUT_MS and retried at once, and retries are at most BACKOFF_MAX_MS apart: after a heal
// the agent is back within about 2 s.
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { MAX_MANAGER_FRAME_BYTES, encodeAgentFrame, parseManagerMessage, type AgentMessage, type CertManagerMessage, type DecodedFrame, type ManagerMessage } from '../../shared/protocol.js';
import { managerCertCheck, type ManagerAddr, type NodeIdentity } from './join.js';
import { ManagerList } from './manager-list.js';
import { formatManagerAddr } from '../../shared/manager-addr.js';
import type { PeerCertificate } from 'node:tls';
import { LogLimiter } from '../../shared/log-limit.js';
import { ReadScrubber } from './read-scrub.js';
import { heartbeatRttSeconds, refusedInputs, sessionConnects } from '../metrics.js';

export const SESSION_PATH = '/runsecrets/session';
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 2_000; // the manager's restart grace (dispatcher.ts) is longer
/** A TCP connect not established by then is abandoned: this covers the SYN and its first retransmission (1 s). */
const CONNECT_TIMEOUT_MS = 2_000;
/** While the manager is away, one line about the retries per this period (with how many were not logged). */
const RETRY_LOG_MS = 30_000;
const MISSED_ACKS = 3;
/** Heartbeats go at least this often, whatever the manager's period, so that a dead connection is noticed soon. */
const HEARTBEAT_MAX_MS = 5_000;
/** No answer for min(MISSED_ACKS periods, this): the connection is dropped and a new one made. */
const ANSWER_TIMEOUT_MAX_MS = 10_000;
const CHECK_MAX_MS = 1_000;
/** OpenSSL 3's SSL_OP_CLEANSE_PLAINTEXT (SSL_OP_BIT(1)): not among Node's crypto.constants, passed through as is. */
const SSL_OP_CLEANSE_PLAINTEXT = 1 << 1;

export type AssignMessage = Extract<ManagerMessage, { type: 'assign' }>;

export interface SessionOptions {
  /** One manager, or the agent's list of them (manager-list.ts): the session moves along it when one fails. */
  manager: ManagerAddr | ManagerList;
  identity: NodeIdentity;
  log: Logger;
  /** Applies an assignment; `blobs` are views into the frame, which is zeroed once this resolves. */
  onAssign(msg: AssignMessage, blobs: Uint8Array[]): Promise<void>;
  /** Called after each (re)connection, once the manager welcomed us. */
  onConnected(): void;
  /** The manager's tunnel messages (stream-open and the streams' data: shared/tunnel.ts). */
  onStream?(msg: Exclude<ManagerMessage, { type: 'welcome' | 'heartbeat-ack' | 'heartbeat-period' | 'assign' } | CertManagerMessage>): void;
  /** The node certificate's messages (cert-renewal.ts). */
  onCert?(msg: CertManagerMessage): void;
  /** The connection was lost (tunnelled streams end with it). */
  onDisconnected?(): void;
  /** A state dir joined before pinning existed pins the first manager it reaches: persist its node ID. */
  onPinManager?(managerId: string): void;
}

export class ManagerSession {
  private ws: WebSocket | null = null;
  private connected = false;
  private renews = false;
  private stopped = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private hbTimer: NodeJS.Timeout | null = null;
  private lastAck = 0;
  private heartbeatSentAt: bigint | null = null; // the heartbeat waiting for its ack (round-trip metric)
  private connectTimedOut = false;
  private queue: Promise<void> = Promise.resolve();
  private readonly refusals = new LogLimiter(5);
  private lastError: string | null = null;
  private retryLog = new LogLimiter(1, RETRY_LOG_MS);

  private readonly managers: ManagerList;

  constructor(private readonly o: SessionOptions) {
    this.managers = o.manager instanceof ManagerList ? o.manager : new ManagerList(null, [o.manager], o.log);
  }

  /** The manager in use (or tried next). */
  get manager(): ManagerAddr {
    return this.managers.current;
  }

  /**
   * The server must be the manager pinned at join, or one the cluster named in a welcome (join.ts
   * managerCertCheck); a refusal is logged, rate-limited.
   */
  private readonly checkServer = (host: string, cert: PeerCertificate): Error | undefined => {
    const pinned = this.o.identity.managerId;
    const err = managerCertCheck(pinned === undefined ? undefined : [...new Set([pinned, ...this.managers.nodeIds])])(host, cert);
    if (err) {
      const ok = this.refusals.allow('manager-identity');
      if (ok) this.o.log.warn({ host, err: err.message, ...(ok.suppressed ? { suppressed: ok.suppressed } : {}) }, 'refusing the server: not the manager this node joined');
      return err;
    }
    if (this.o.identity.managerId === undefined) {
      const id = String(cert.subject?.CN ?? '');
      this.o.identity.managerId = id;
      this.o.onPinManager?.(id);
      this.o.log.warn({ manager: id }, 'no manager identity was pinned at join (older state dir): pinned the manager reached now');
    }
    return undefined;
  };

  /** Whether the manager of this connection takes node certificate messages (its welcome says so). */
  get managerRenews(): boolean {
    return this.renews;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Seconds since the manager was last heard from; null before the first welcome. */
  get lastHeardSecondsAgo(): number | null {
    return this.lastAck === 0 ? null : (Date.now() - this.lastAck) / 1000;
  }

  start(): void {
    this.connect();
  }

  /** Sends now if connected; otherwise dropped (the owner resends current states after reconnecting). */
  send(msg: AgentMessage): boolean {
    if (!this.connected || !this.ws) return false;
    this.ws.send(encodeAgentFrame(msg), { binary: true });
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1001, 'agent stopping');
        setTimeout(() => ws.terminate(), 1000).unref();
      });
    }
    await this.queue;
  }

  private connect(): void {
    if (this.stopped) return;
    const { host, port } = this.managers.current;
    const hostPart = host.includes(':') ? `[${host}]` : host;
    // ws hands the TLS options to tls.connect, whose checkServerIdentity returns an Error (ws's typing is older).
    const tlsOpts: ConnectionOptions = {
      cert: this.o.identity.certPem,
      key: this.o.identity.keyPem,
      ca: [this.o.identity.caPem],
      rejectUnauthorized: true,
      checkServerIdentity: this.checkServer,
      minVersion: 'TLSv1.3',
      // OpenSSL otherwise keeps the last record's plaintext (secret bytes) in its read buffer until overwritten.
      secureOptions: SSL_OP_CLEANSE_PLAINTEXT,
    };
    this.connectTimedOut = false;
    const ws = new WebSocket(`wss://${hostPart}:${port}${SESSION_PATH}`, {
      ...(tlsOpts as unknown as ClientOptions),
      perMessageDeflate: false, // compression would keep secret bytes in zlib's buffers
      maxPayload: MAX_MANAGER_FRAME_BYTES, // the manager's direction; ours is the manager's to limit
      handshakeTimeout: 10_000,
      createConnection: ((opts: ConnectionOptions & { path?: string }) => this.connectSocket(opts)) as unknown as ClientOptions['createConnection'],
      allowSynchronousEvents: true, // messages are emitted while ws parses a read: read-scrub.ts relies on it
    });
    this.ws = ws;
    const scrubber = new ReadScrubber(); // zeroes the socket's reads once parsed and handled (read-scrub.ts)
    ws.once('open', () => scrubber.attach(ws));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        this.o.log.warn('text frame from the manager: ignored');
        return;
      }
      const frame = data as Buffer;
      scrubber.frameStarted();
      const done = (): void => {
        frame.fill(0);
        scrubber.frameDone();
      };
      const msg = this.parseFrame(frame);
      // Only assignments wait their turn (they are applied in order, and applying one waits on the mount and the
      // runtime); heartbeat answers and the rest are handled as they come. Queued behind a burst of assignments,
      // the answers went unread for 10 s and more under load: the agent dropped a healthy session.
      if (msg?.msg.type !== 'assign') {
        try {
          if (msg) this.onMessage(msg.msg);
        } finally {
          done();
        }
        return;
      }
      const assign = msg.msg;
      this.lastAck = Date.now();
      this.queue = this.queue.then(() => this.applyAssign(assign, msg.blobs)).finally(done);
    });
    ws.on('close', (code, reason) => {
      const was = this.connected;
      this.connected = false;
      this.o.onDisconnected?.();
      this.stopHeartbeat();
      if (this.ws === ws) this.ws = null;
      this.lastError ??= `connection closed (code ${code})`;
      // A stopping agent closed it itself, after stopping its tasks: nothing keeps running then.
      if (was && this.stopped) this.o.log.info({ code }, 'session with the manager closed: the agent is stopping');
      else if (was) this.o.log.warn({ code, reason: reason.toString() }, 'disconnected from the manager; tasks keep running');
      this.scheduleReconnect();
    });
    ws.on('error', (err) => {
      this.lastError = err.message;
      this.o.log.debug({ err: err.message }, 'session error');
    });
    ws.on('unexpected-response', (_req, res) => {
      this.o.log.warn({ status: res.statusCode }, 'the manager refused the session');
      ws.terminate();
    });
  }

  /** ws's own TLS connect, plus a limit on the TCP connect (the kernel would retry a lost SYN for minutes). */
  private connectSocket(opts: ConnectionOptions & { path?: string }): TLSSocket {
    opts.path = undefined;
    if (!opts.servername && opts.servername !== '') opts.servername = opts.host && !isIP(opts.host) ? opts.host : '';
    const socket = tlsConnect(opts);
    const timer = setTimeout(() => {
      this.connectTimedOut = true;
      socket.destroy(new Error(`TCP connect to the manager timed out after ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    socket.once('connect', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
    return socket;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    // With several managers, the next one is tried soon; the backoff grows only once every one failed in turn.
    const wrapped = this.managers.size > 1 ? this.managers.advance() : true;
    // A connect that timed out already waited: retry at once (no SYN is in flight any more), without growing.
    if (this.connectTimedOut) this.attempt = 0;
    const ceiling = wrapped ? Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.attempt, 20)) : BACKOFF_MIN_MS;
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2)); // jitter: agents do not return in step
    if (wrapped) this.attempt++;
    const logged = this.retryLog.allow('retry');
    if (logged) {
      const nextAttemptAt = new Date(Date.now() + delay).toISOString();
      this.o.log.warn({ attempt: this.attempt, nextAttemptAt, next: formatManagerAddr(this.managers.current), err: this.lastError, notLogged: logged.suppressed }, 'manager unreachable: retrying');
    } else this.o.log.debug({ delay, attempt: this.attempt }, 'reconnecting');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private stopHeartbeat(): void {
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.hbTimer = null;
  }

  /** Heartbeats every period (capped), and a reconnect when the manager stays silent for MISSED_ACKS periods. */
  private startHeartbeat(heartbeatMs: number): void {
    const period = heartbeatMs >= 50 ? heartbeatMs : 5000;
    const every = Math.min(period, HEARTBEAT_MAX_MS);
    const answerTimeout = Math.min(MISSED_ACKS * period, ANSWER_TIMEOUT_MAX_MS);
    this.stopHeartbeat();
    // The silence is checked more often than heartbeats go (at least every second), so that a dead connection
    // is dropped soon after answerTimeout whatever the period.
    let lastSent = Date.now();
    const ws = this.ws;
    this.hbTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastAck > answerTimeout) {
        // Timers run before pending reads: after a stall of this process, the answers may be waiting unread.
        // Judge once they are read (setImmediate runs after the event loop's I/O phase).
        setImmediate(() => {
          if (this.ws !== ws || Date.now() - this.lastAck <= answerTimeout) return;
          this.o.log.warn({ silentMs: Date.now() - this.lastAck }, 'no heartbeat answer from the manager: reconnecting');
          ws?.terminate();
        });
        return;
      }
      if (now - lastSent < every - 5) return; // 5 ms: timers may fire a little early
      lastSent = now;
      if (this.send({ type: 'heartbeat' })) this.heartbeatSentAt = process.hrtime.bigint();
    }, Math.min(every, CHECK_MAX_MS));
  }

  /** The frame as a typed message; null (logged, counted) when malformed. */
  private parseFrame(frame: Buffer): DecodedFrame<ManagerMessage> | null {
    try {
      return parseManagerMessage(frame);
    } catch (err) {
      // Refused whole and ignored: nothing of a malformed frame is applied (an assign's IDs would become names on
      // the mount). The peer is the authenticated manager: the session goes on.
      refusedInputs.inc({ reason: 'frame' });
      this.o.log.warn({ err: errorMessage(err).slice(0, 200) }, 'bad frame from the manager: ignored');
      return null;
    }
  }

  private async applyAssign(msg: AssignMessage, blobs: Uint8Array[]): Promise<void> {
    try {
      await this.o.onAssign(msg, blobs);
    } catch (err) {
      this.o.log.error({ err: errorMessage(err) }, 'applying assignments failed');
    }
  }

  /** Every message but an assignment, handled at once. */
  private onMessage(msg: Exclude<ManagerMessage, AssignMessage>): void {
    if (msg.type === 'welcome') {
      if (msg.nodeId !== this.o.identity.nodeId) this.o.log.warn({ got: msg.nodeId }, 'the manager names another node ID');
      this.connected = true;
      this.renews = msg.certs === true;
      sessionConnects.inc();
      this.attempt = 0;
      this.lastAck = Date.now();
      this.startHeartbeat(msg.heartbeatMs);
      this.o.log.info({ node: this.o.identity.nodeId, manager: formatManagerAddr(this.managers.current) }, 'connected to the manager');
      if (msg.managers) this.managers.update(msg.managers);
      this.retryLog = new LogLimiter(1, RETRY_LOG_MS); // the next outage's first retry is logged at once
      this.lastError = null;
      this.o.onConnected();
    } else if (msg.type === 'heartbeat-period') {
      // The swarm's Dispatcher.HeartbeatPeriod changed (POST /swarm/update): the same session, the new period.
      this.lastAck = Date.now();
      this.startHeartbeat(msg.heartbeatMs);
      this.o.log.info({ heartbeatMs: msg.heartbeatMs }, 'heartbeat period changed by the manager');
    } else if (msg.type === 'heartbeat-ack') {
      this.lastAck = Date.now();
      if (this.heartbeatSentAt !== null) heartbeatRttSeconds.observe(Number(process.hrtime.bigint() - this.heartbeatSentAt) / 1e9);
      this.heartbeatSentAt = null;
    } else if (msg.type === 'node-cert' || msg.type === 'node-cert-refused' || msg.type === 'cert-renew' || msg.type === 'trust') {
      this.lastAck = Date.now();
      this.o.onCert?.(msg);
    } else {
      this.lastAck = Date.now();
      this.o.onStream?.(msg);
    }
  }
}
