// The agent's one session with the manager: a WebSocket over mutual TLS (the node certificate is our identity),
// heartbeats, and reconnection with jittered exponential backoff. Each (re)connection starts with the manager's
// full state, which the owner applies as a difference; messages are handled one at a time, in order.
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { MAX_FRAME_BYTES, assignProblem, decodeFrame, encodeFrame, type AgentMessage, type ManagerMessage } from '../../shared/protocol.js';
import { checkManagerCert, type ManagerAddr, type NodeIdentity } from './join.js';

export const SESSION_PATH = '/runsecrets/session';
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000; // the manager's restart grace (dispatcher.ts) is longer
const MISSED_ACKS = 3;

export type AssignMessage = Extract<ManagerMessage, { type: 'assign' }>;

export interface SessionOptions {
  manager: ManagerAddr;
  identity: NodeIdentity;
  log: Logger;
  /** Applies an assignment; `blobs` are views into the frame, which is zeroed once this resolves. */
  onAssign(msg: AssignMessage, blobs: Uint8Array[]): Promise<void>;
  /** Called after each (re)connection, once the manager welcomed us. */
  onConnected(): void;
}

export class ManagerSession {
  private ws: WebSocket | null = null;
  private connected = false;
  private stopped = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private hbTimer: NodeJS.Timeout | null = null;
  private lastAck = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly o: SessionOptions) {}

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    this.connect();
  }

  /** Sends now if connected; otherwise dropped (the owner resends current states after reconnecting). */
  send(msg: AgentMessage): boolean {
    if (!this.connected || !this.ws) return false;
    this.ws.send(encodeFrame(msg), { binary: true });
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
    const { host, port } = this.o.manager;
    const hostPart = host.includes(':') ? `[${host}]` : host;
    // ws hands the TLS options to tls.connect, whose checkServerIdentity returns an Error (ws's typing is older).
    const tlsOpts: ConnectionOptions = {
      cert: this.o.identity.certPem,
      key: this.o.identity.keyPem,
      ca: [this.o.identity.caPem],
      rejectUnauthorized: true,
      checkServerIdentity: checkManagerCert,
      minVersion: 'TLSv1.3',
    };
    const ws = new WebSocket(`wss://${hostPart}:${port}${SESSION_PATH}`, {
      ...(tlsOpts as unknown as ClientOptions),
      perMessageDeflate: false, // compression would keep secret bytes in zlib's buffers
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 10_000,
    });
    this.ws = ws;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        this.o.log.warn('text frame from the manager: ignored');
        return;
      }
      const frame = data as Buffer;
      this.queue = this.queue.then(() => this.onFrame(frame)).finally(() => frame.fill(0));
    });
    ws.on('close', (code, reason) => {
      const was = this.connected;
      this.connected = false;
      this.stopHeartbeat();
      if (this.ws === ws) this.ws = null;
      if (was) this.o.log.warn({ code, reason: reason.toString() }, 'disconnected from the manager; tasks keep running');
      this.scheduleReconnect();
    });
    ws.on('error', (err) => this.o.log.debug({ err: err.message }, 'session error'));
    ws.on('unexpected-response', (_req, res) => {
      this.o.log.warn({ status: res.statusCode }, 'the manager refused the session');
      ws.terminate();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.attempt, 20));
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2)); // jitter: agents do not return in step
    this.attempt++;
    this.o.log.debug({ delay, attempt: this.attempt }, 'reconnecting');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private stopHeartbeat(): void {
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.hbTimer = null;
  }

  private async onFrame(frame: Buffer): Promise<void> {
    let decoded;
    try {
      decoded = decodeFrame<ManagerMessage>(frame);
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'bad frame from the manager');
      this.ws?.terminate();
      return;
    }
    const msg = decoded.msg;
    if (msg.type === 'welcome') {
      if (msg.nodeId !== this.o.identity.nodeId) this.o.log.warn({ got: msg.nodeId }, 'the manager names another node ID');
      this.connected = true;
      this.attempt = 0;
      this.lastAck = Date.now();
      const period = Number.isSafeInteger(msg.heartbeatMs) && msg.heartbeatMs >= 50 ? msg.heartbeatMs : 5000;
      this.stopHeartbeat();
      this.hbTimer = setInterval(() => {
        if (Date.now() - this.lastAck > MISSED_ACKS * period) {
          this.o.log.warn('no heartbeat answer from the manager: reconnecting');
          this.ws?.terminate();
          return;
        }
        this.send({ type: 'heartbeat' });
      }, period);
      this.o.log.info({ node: this.o.identity.nodeId }, 'connected to the manager');
      this.o.onConnected();
    } else if (msg.type === 'heartbeat-ack') {
      this.lastAck = Date.now();
    } else if (msg.type === 'assign') {
      this.lastAck = Date.now();
      const bad = assignProblem(msg as unknown as Record<string, unknown>, decoded.blobs.length);
      if (bad) {
        // Refused whole: nothing of it is applied (its IDs would become names on the mount).
        this.o.log.warn({ why: bad.slice(0, 200) }, 'invalid assignment from the manager: ignored');
        return;
      }
      try {
        await this.o.onAssign(msg, decoded.blobs);
      } catch (err) {
        this.o.log.error({ err: errorMessage(err) }, 'applying assignments failed');
      }
    } else {
      this.o.log.warn({ type: String((msg as { type: unknown }).type).slice(0, 64) }, 'unknown message type from the manager: ignored');
    }
  }
}
