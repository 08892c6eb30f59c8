// Renews the node certificate over the session before it expires (Swarm's timing: at a random point between 50 %
// and 80 % of its validity) and when the manager asks (root rotation). Each renewal makes a new key here; only its
// CSR leaves the host. The new pair is stored atomically (join.ts storeNodeCert) and used from the next connection
// on: the session goes on over the connection it has, so tasks and their files are not disturbed.
import { X509Certificate, createHash, webcrypto } from 'node:crypto';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { identityOfCert } from '../../shared/cert-identity.js';

/** Key and CSR tools, loaded at the first renewal only: an idle agent does not hold them (shared/cert-identity.ts). */
const pki = (): Promise<typeof import('../../shared/pki.js')> => import('../../shared/pki.js');
import type { CertAgentMessage, CertManagerMessage } from '../../shared/protocol.js';
import { storeNodeCert, storeTrust, type NodeIdentity } from './join.js';

/** swarmkit's CertLowerRotationRange and CertUpperRotationRange. */
export const RENEW_FROM = 0.5;
export const RENEW_TO = 0.8;
/** A request not answered by then (the session dropped, say) is abandoned and made again. */
const ANSWER_TIMEOUT_MS = 30_000;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;
/** setTimeout's ceiling (about 24.8 days): a 90-day certificate's renewal is further away, so waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Milliseconds from `now` until renewal: a uniformly random point between 50 % and 80 % of the validity. */
export function renewalDelayMs(certPem: string, now = Date.now(), rand = Math.random()): number {
  const c = new X509Certificate(certPem);
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  return Math.max(0, from + (to - from) * (RENEW_FROM + (RENEW_TO - RENEW_FROM) * rand) - now);
}

/** The PEM certificates of a bundle, in order. */
export function pemCertificates(bundle: string): X509Certificate[] {
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
}

/** SHA-256 of each root's DER (hex), what the agent reports as its trust (tls-state). */
export function trustFingerprints(bundle: string): string[] {
  return pemCertificates(bundle).map((c) => createHash('sha256').update(c.raw).digest('hex'));
}

/** The root of `roots` that issued and signed `leaf`, if any. */
function issuerAmong(leaf: X509Certificate, roots: X509Certificate[]): X509Certificate | undefined {
  return roots.find((r) => leaf.checkIssued(r) && leaf.verify(r.publicKey));
}

export interface CertRenewalOptions {
  stateDir: string;
  /** Updated in place: the session's next connection uses what it holds. */
  identity: NodeIdentity;
  log: Logger;
  send(msg: CertAgentMessage): boolean;
}

export class CertRenewal {
  private timer: NodeJS.Timeout | null = null;
  private dueAt = Infinity;
  /** The key of the request in flight; set before any await, so that one request goes at a time. */
  private pending: { keys: CryptoKeyPair | null; sentAt: number } | null = null;
  private failures = 0;
  private stopped = false;
  /** The manager of the current connection takes our messages (an older one would drop the session on them). */
  private supported = false;

  constructor(private readonly o: CertRenewalOptions) {}

  start(): void {
    const notAfter = Date.parse(new X509Certificate(this.o.identity.certPem).validTo);
    if (notAfter <= Date.now()) {
      // Docker's text: nothing can renew an expired certificate, the manager refuses it.
      this.o.log.error({ notAfter: new Date(notAfter).toISOString() }, 'Swarm certificates have expired. To replace them, leave the swarm and join again.');
    }
    this.scheduleAt(Date.now() + renewalDelayMs(this.o.identity.certPem));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** After each (re)connection: report what we hold; a renewal that came due while away goes now. `supported`:
   * the manager's welcome says it takes certificate messages; an older manager is sent none. */
  onConnected(supported: boolean): void {
    this.supported = supported;
    if (!supported) {
      this.o.log.warn('the manager does not renew node certificates (an older version): renewal waits for one that does');
      return;
    }
    this.sendState();
    if (Date.now() >= this.dueAt) void this.renew('due');
  }

  onMessage(msg: CertManagerMessage): void {
    if (msg.type === 'cert-renew') void this.renew('asked by the manager');
    else if (msg.type === 'node-cert') void this.install(msg.cert, msg.trust);
    else if (msg.type === 'node-cert-refused') this.failed(`the manager refused the renewal: ${msg.reason}`);
    else this.setTrust(msg.trust);
  }

  private scheduleAt(at: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = at;
    const wait = Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (Date.now() >= this.dueAt) void this.renew('due');
      else this.scheduleAt(this.dueAt);
    }, wait);
    this.timer.unref();
  }

  private async renew(why: string): Promise<void> {
    if (this.stopped) return;
    if (this.pending && Date.now() - this.pending.sentAt < ANSWER_TIMEOUT_MS) return; // one at a time
    const pending: { keys: CryptoKeyPair | null; sentAt: number } = { keys: null, sentAt: Date.now() };
    this.pending = pending;
    try {
      const { createCsrPem, generateKeyPair } = await pki();
      const keys = await generateKeyPair();
      const csr = await createCsrPem(keys, this.o.identity.nodeId);
      if (this.pending !== pending) return; // superseded meanwhile
      pending.keys = keys;
      pending.sentAt = Date.now();
      if (!this.supported || !this.o.send({ type: 'cert-request', csr })) {
        this.pending = null;
        this.dueAt = Math.min(this.dueAt, Date.now()); // sent at the next connection (onConnected)
        return;
      }
      this.o.log.info({ why }, 'node certificate renewal requested');
      // No answer in time: try again (the connection may have dropped with the request).
      setTimeout(() => {
        if (this.pending === pending) this.failed('the manager did not answer the renewal request');
      }, ANSWER_TIMEOUT_MS).unref();
    } catch (err) {
      if (this.pending === pending) this.failed(`cannot make a renewal request: ${errorMessage(err)}`);
    }
  }

  private failed(why: string): void {
    this.pending = null;
    this.failures++;
    const retry = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.failures, 10));
    this.o.log.error({ retryInMs: retry }, `node certificate not renewed: ${why}`);
    this.scheduleAt(Date.now() + retry);
  }

  /** A certificate for the pending key: checked (our key, our node, issued by a root of `trust`), stored, used. */
  private async install(certPem: string, trust: string): Promise<void> {
    const pending = this.pending;
    if (!pending?.keys) {
      this.o.log.warn('a node certificate came without a request of ours: ignored');
      return;
    }
    const keys = pending.keys;
    try {
      const leaf = new X509Certificate(certPem);
      const ours = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
      if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(ours)) throw new Error('it is not for the key of our request');
      const now = identityOfCert(this.o.identity.certPem);
      const next = identityOfCert(certPem);
      if (next.nodeId !== now.nodeId || next.role !== now.role) throw new Error(`it names node ${next.nodeId} (${next.role ?? 'no role'}), not ${now.nodeId} (${now.role ?? 'no role'})`);
      if (!issuerAmong(leaf, pemCertificates(trust))) throw new Error('it is not issued by a root the manager gave');
      const keyPem = await (await pki()).privateKeyPem(keys.privateKey);
      if (this.pending !== pending) return; // answered twice: the first one won
      this.pending = null;
      storeNodeCert(this.o.stateDir, keyPem, certPem);
      if (trust !== this.o.identity.caPem) storeTrust(this.o.stateDir, trust);
      Object.assign(this.o.identity, { keyPem, certPem, caPem: trust });
      this.failures = 0;
      this.o.log.info({ serial: next.serial, notAfter: new Date(leaf.validTo).toISOString() }, 'node certificate renewed: used from the next connection');
      this.sendState();
      this.scheduleAt(Date.now() + renewalDelayMs(certPem));
    } catch (err) {
      if (this.pending === pending) this.failed(`the certificate the manager sent was refused: ${errorMessage(err)}`);
    }
  }

  /** New roots to trust (root rotation done): only if our certificate is issued by one of them. */
  private setTrust(trust: string): void {
    try {
      if (!issuerAmong(new X509Certificate(this.o.identity.certPem), pemCertificates(trust))) {
        throw new Error('our certificate is not issued by any of them');
      }
      storeTrust(this.o.stateDir, trust);
      this.o.identity.caPem = trust;
      this.o.log.info({ roots: trustFingerprints(trust).length }, 'trusted roots replaced by the manager (root rotation)');
      this.sendState();
    } catch (err) {
      this.o.log.error({ err: errorMessage(err) }, 'new trusted roots refused');
    }
  }

  private sendState(): void {
    if (!this.supported) return;
    this.o.send({ type: 'tls-state', cert: this.o.identity.certPem, trust: trustFingerprints(this.o.identity.caPem) });
  }
}
