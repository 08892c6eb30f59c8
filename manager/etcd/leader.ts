// Leader election through etcd: one manager runs the orchestrator and scheduler. The classic etcd recipe (as the
// Go client's concurrency.Election and etcd3's Election, whose key layout this shares: election/<name>/<lease ID>):
// each candidate puts its key under a lease it keeps alive; the key with the lowest create revision leads; the
// others wait for the key just before theirs to go.
//
// Safety beyond the recipe: etcd forgets a lease TTL after the last keepalive it received, so this side stops
// calling itself leader at (time the last acknowledged keepalive was sent) + TTL - margin, even when etcd cannot be
// reached to say so. A leader paused or cut off thus steps down before anyone else can be elected.
import type { Etcd3, Lease, Namespace } from 'etcd3';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';

export const DEFAULT_LEASE_TTL_SECONDS = 3;
export const DEFAULT_ELECTION = 'runsecrets-leader';
/** Stepping down this long before the lease could expire in etcd: clock rate differences and scheduling. */
const SAFETY_MARGIN_MS = 500;
const CHECK_MS = 100;
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 2_000;

export interface LeaderState {
  /** The leader etcd shows (its identity), null when there is none or it is not known yet. */
  leader: string | null;
  /** This candidate leads (and its lease is still surely valid). */
  isLeader: boolean;
}

export interface LeaderElectorOptions {
  client: Etcd3;
  /** This candidate's identity (the manager's node ID): what the others see as the leader. */
  id: string;
  election?: string;
  ttlSeconds?: number;
  log: Logger;
}

type Listener = (state: LeaderState) => void;

/** A candidate in the election, and an observer of who leads. */
export class LeaderElector {
  private readonly ns: Namespace;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private stopped = false;
  /** Bumped whenever a campaign ends: awaits of an older one see it and give up. */
  private generation = 0;
  private lease: Lease | null = null;
  private elected = false;
  /** Until when the lease is surely alive in etcd (ms since epoch). */
  private validUntil = 0;
  private observedLeader: string | null = null;
  private observedKey: string | null = null;
  private ownKey: string | null = null;
  private ownRevision: string | null = null;
  private readonly listeners = new Set<Listener>();
  private checkTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private last: LeaderState = { leader: null, isLeader: false };

  constructor(private readonly o: LeaderElectorOptions) {
    this.prefix = `election/${o.election ?? DEFAULT_ELECTION}/`;
    this.ns = o.client.namespace(this.prefix);
    this.ttlMs = (o.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS) * 1000;
    if (this.ttlMs < 2000) throw new Error(`lease TTL ${o.ttlSeconds ?? ''} s is too short: at least 2 s`);
  }

  /** True only while elected and the lease surely valid (checked now, not only on the timer). */
  get isLeader(): boolean {
    return this.elected && Date.now() < this.validUntil - SAFETY_MARGIN_MS;
  }

  get leader(): string | null {
    return this.observedLeader;
  }

  /** The leading election key as etcd shows it (relative to the election prefix). */
  get leaderKey(): string | null {
    return this.observedKey;
  }

  /** This candidate's election key while it campaigns (the key etcd orders by create revision). */
  get campaignKey(): string | null {
    return this.ownKey;
  }

  /**
   * While leader: the comparison a leader's write must carry (etcd txn: this key's create revision equals this),
   * so that etcd itself refuses the write once the lease is gone, whatever this process believes. The key is the
   * full etcd key (with the election prefix). Once our key leads it leads until it is deleted (earlier keys only
   * go away, later ones sort after it), so its existence at that revision is exactly "still the leader".
   */
  get writeGuard(): { key: string; createRevision: string } | null {
    if (!this.isLeader || this.ownKey === null || this.ownRevision === null) return null;
    return { key: `${this.prefix}${this.ownKey}`, createRevision: this.ownRevision };
  }

  get state(): LeaderState {
    return { leader: this.observedLeader, isLeader: this.isLeader };
  }

  /** Called whenever isLeader or the observed leader changes; returns the unsubscribe function. */
  onLeaderChange(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  start(): void {
    this.checkTimer = setInterval(() => this.check(), CHECK_MS);
    this.campaign(this.generation);
    this.observe(this.generation);
  }

  /** Resigns (revokes the lease, so that the next candidate leads at once) and stops observing. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.checkTimer) clearInterval(this.checkTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.elected = false;
    this.notify();
    const lease = this.lease;
    this.lease = null;
    if (lease) await lease.revoke().catch((err: unknown) => this.o.log.warn({ err: errorMessage(err) }, 'resigning: lease revoke failed; it expires by its TTL'));
    this.o.log.info('left the leader election');
  }

  private notify(): void {
    const now = this.state;
    if (now.isLeader === this.last.isLeader && now.leader === this.last.leader) return;
    if (now.isLeader !== this.last.isLeader) this.o.log.info({ id: this.o.id, leader: now.leader }, now.isLeader ? 'elected leader' : 'no longer the leader');
    this.last = now;
    for (const fn of this.listeners) fn(now);
  }

  /** The lease could have expired in etcd: step down and campaign again. */
  private check(): void {
    if (this.elected && !this.isLeader) {
      this.o.log.warn({ id: this.o.id }, 'leader lease not renewed in time: stepping down');
      this.restart('lease not renewed');
    }
    this.notify();
  }

  /** Ends the current campaign (its lease revoked, best effort) and starts another after a backoff. */
  private restart(reason: string): void {
    if (this.stopped) return;
    this.generation++;
    this.elected = false;
    this.ownKey = null;
    this.ownRevision = null;
    const lease = this.lease;
    this.lease = null;
    if (lease) void lease.revoke().catch(() => undefined);
    this.notify();
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.attempt, 10));
    this.attempt++;
    this.o.log.debug({ reason, delay }, 'campaigning again');
    const gen = this.generation;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (gen !== this.generation || this.stopped) return;
      this.campaign(gen);
      this.observe(gen);
    }, delay);
  }

  private campaign(gen: number): void {
    this.runCampaign(gen).catch((err: unknown) => {
      if (gen !== this.generation) return;
      this.o.log.warn({ err: errorMessage(err) }, 'leader campaign failed: retrying');
      this.restart(errorMessage(err));
    });
  }

  private async runCampaign(gen: number): Promise<void> {
    const ttlSeconds = this.ttlMs / 1000;
    const lease = this.o.client.lease(ttlSeconds, { autoKeepAlive: true });
    this.lease = lease;
    // etcd counts the TTL from when it handles a grant or keepalive, which is after we sent it.
    let sentAt = Date.now();
    lease.on('keepaliveFired', () => (sentAt = Date.now()));
    lease.on('keepaliveSucceeded', () => {
      if (gen === this.generation) this.validUntil = sentAt + this.ttlMs;
    });
    lease.on('lost', (err: Error) => {
      if (gen === this.generation) this.restart(`lease lost: ${err.message}`);
    });
    const grantSentAt = Date.now();
    const leaseId = await lease.grant();
    if (gen !== this.generation) return;
    this.validUntil = grantSentAt + this.ttlMs;
    const key = leaseId;
    const put = await this.ns.if(key, 'Create', '==', 0).then(this.ns.put(key).value(this.o.id).lease(leaseId)).commit();
    if (gen !== this.generation) return;
    if (!put.succeeded) throw new Error(`election key ${key} exists already`);
    const rev = BigInt(put.header.revision);
    this.ownKey = key;
    this.ownRevision = String(rev);
    // Wait for every earlier candidate's key to go, one at a time (the one just before ours, then again).
    for (;;) {
      const before = await this.ns.getAll().maxCreateRevision(String(rev - 1n)).sort('Create', 'Descend').limit(1).exec();
      if (gen !== this.generation) return;
      const prev = before.kvs[0];
      if (!prev) break;
      await this.waitDeleted(prev.key.toString(), BigInt(before.header.revision) + 1n, gen);
      if (gen !== this.generation) return;
    }
    // Our key must still be there (the lease may have gone while we waited).
    const own = await this.ns.get(key).exec();
    if (gen !== this.generation) return;
    const kv = own.kvs[0];
    if (!kv || BigInt(kv.create_revision) !== rev) throw new Error('our election key went while waiting: the lease expired');
    this.elected = true;
    this.attempt = 0;
    this.notify();
  }

  /** Resolves when `key` (relative to the election) is deleted at or after `fromRev`, or the campaign ends. */
  private async waitDeleted(key: string, fromRev: bigint, gen: number): Promise<void> {
    const watcher = await this.ns.watch().key(key).startRevision(String(fromRev)).only('delete').create();
    try {
      await new Promise<void>((resolve, reject) => {
        const poll = setInterval(() => {
          if (gen !== this.generation) done();
        }, CHECK_MS);
        const done = (err?: Error): void => {
          clearInterval(poll);
          if (err) reject(err);
          else resolve();
        };
        watcher.once('delete', () => done());
        watcher.once('error', (err: Error) => done(err));
      });
    } finally {
      await watcher.cancel().catch(() => undefined);
    }
  }

  /** Keeps observedLeader current: the value of the key with the lowest create revision. */
  private observe(gen: number): void {
    this.runObserve(gen).catch((err: unknown) => {
      if (gen !== this.generation || this.stopped) return;
      this.o.log.warn({ err: errorMessage(err) }, 'observing the leader failed: retrying');
      this.restart(errorMessage(err));
    });
  }

  private async runObserve(gen: number): Promise<void> {
    while (gen === this.generation) {
      const first = await this.ns.getAll().sort('Create', 'Ascend').limit(1).exec();
      if (gen !== this.generation) return;
      const kv = first.kvs[0];
      this.observedKey = kv ? kv.key.toString() : null;
      this.observedLeader = kv ? kv.value.toString() : null;
      this.notify();
      // Wait for any change under the election prefix after what we read, then read again.
      const watcher = await this.ns.watch().prefix('').startRevision(String(BigInt(first.header.revision) + 1n)).create();
      try {
        await new Promise<void>((resolve, reject) => {
          const poll = setInterval(() => {
            if (gen !== this.generation) resolve();
          }, CHECK_MS);
          const done = (): void => {
            clearInterval(poll);
            resolve();
          };
          watcher.once('data', done);
          watcher.once('error', (err: Error) => {
            clearInterval(poll);
            reject(err);
          });
        });
      } finally {
        await watcher.cancel().catch(() => undefined);
      }
    }
  }
}
