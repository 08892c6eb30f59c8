// The replicated Store: objects in etcd, one transaction per commit. Keys hold only IDs, keyed hashes of names and
// sealed bodies (the same data key and sealing as sqlite.ts), so etcd's files, WAL and snapshots show no name or
// value. An object's version is the etcd revision of its last write (Docker's Version.Index).
// Reads are served from an in-memory copy kept by one watch of the prefix. A commit is planned (plan.ts) on that
// copy while the keys it read are recorded; its transaction compares each of them unchanged, so the checks commit
// with the writes or the transaction fails, the copy catches up, and the commit is planned again.
// Keys under the prefix:
//   o/<kind>/<id>      the sealed object (AAD: kind and ID; its version is etcd's, not known before the write)
//   n/<kind>/<hmac>    the ID holding a name (HMAC of the lower-cased name)
//   x/<kind>/<id>      touched by every write of an object that references kind/id: an 'unreferenced' guard
//                      compares it, so a reference made after the check fails the guarded write
//   rev                written by every commit: the last commit's revision, which the copy waits for
//   key_check          sealed constant: the data key matches
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions, type Watcher } from 'etcd3';
import { deriveKey, hmac, open, seal } from '../../shared/crypto.js';
import { nowRfc3339Nano } from '../../shared/time.js';
import type { Guard, Kind, Store, Stored, StoreEvent, StoredObject, Unwatch, WriteOp } from './types.js';
import { KINDS } from './types.js';
import { CompactedError, StoreClosedError, StoreError } from './errors.js';
import { planCommit, type PlannedWrite, type ReadView } from './plan.js';
import { OneWriteCommits } from './one-write-commits.js';
import { references, referencesOf } from './references.js';

const MAX_TRIES = 1000; // a commit whose reads keep changing under it gives up (each failure is another's success)

export interface EtcdStoreOptions {
  /** Client URLs, e.g. https://127.0.0.1:2379. */
  endpoints: string[];
  dek: Buffer;
  /** Key prefix of this cluster's store (default "runsecrets/"). */
  prefix?: string;
  /** Mutual TLS: the CA that signed etcd's certificate, and this client's certificate and key (PEM files). */
  tls?: { caFile: string; certFile?: string; keyFile?: string };
}

interface Body {
  name: string | null;
  createdAt: string;
  updatedAt: string;
  spec: unknown;
}
interface Aux {
  mod: number;
  value: string;
}
type KV = { key: Buffer; value: Buffer; mod_revision: string; create_revision: string };
type Put = { put: true; value: Buffer | string } | { put: false };

export class EtcdStore extends OneWriteCommits implements Store {
  readonly backend = 'etcd';
  private readonly objKey: Buffer;
  private readonly nameKey: Buffer;
  private readonly cache = new Map<Kind, Map<string, StoredObject>>();
  private readonly aux = new Map<string, Aux>(); // n/ and x/ keys
  private rev = 0; // the copy is at this revision
  private lastCommit = 0; // mod revision of the rev key in the copy
  private waiters: { rev: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private readonly live = new Set<(e: StoreEvent) => void>();
  private watcher: Watcher | null = null;
  private closed = false;
  private broken: StoreError | null = null;

  private constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    dek: Buffer,
  ) {
    super();
    this.objKey = deriveKey(dek, 'store objects');
    this.nameKey = deriveKey(dek, 'store names');
  }

  static async open(opts: EtcdStoreOptions): Promise<EtcdStore> {
    const o: IOptions = { hosts: opts.endpoints, dialTimeout: 5000 };
    if (opts.tls) {
      o.credentials = {
        rootCertificate: readFileSync(opts.tls.caFile),
        ...(opts.tls.keyFile ? { privateKey: readFileSync(opts.tls.keyFile) } : {}),
        ...(opts.tls.certFile ? { certChain: readFileSync(opts.tls.certFile) } : {}),
      };
    }
    const s = new EtcdStore(new Etcd3(o), opts.prefix ?? 'runsecrets/', opts.dek);
    try {
      await s.start();
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  /** The etcd client (tests compact with it; helper code may share its connection). */
  get etcd(): Etcd3 {
    return this.client;
  }

  private async start(): Promise<void> {
    const check = this.prefix + 'key_check';
    const sealed = seal(this.objKey, Buffer.from('runsecrets'), Buffer.from('key_check'));
    const r = await this.client.if(check, 'Create', '==', 0).then(this.client.put(check).value(sealed)).commit();
    if (!r.succeeded) {
      const v = await this.client.get(check).buffer();
      if (v) open(this.objKey, v, Buffer.from('key_check'), 'the store (its data key does not match)');
    }
    const all = await this.client.getAll().prefix(this.prefix).exec();
    for (const kv of all.kvs as KV[]) this.applyPut(kv);
    this.rev = Number(all.header.revision);
    const w = await this.client.watch().prefix(this.prefix).startRevision(String(this.rev + 1)).withPreviousKV().create();
    w.on('data', (res) => this.onData(res.events as { type: string; kv: KV; prev_kv?: KV }[], Number(res.header.revision)));
    // The client re-establishes a broken stream itself; an error here means etcd cancelled the watch (compacted
    // past the copy): the copy can no longer follow, so writes stop rather than check against stale state.
    w.on('error', (err: Error) => {
      this.broken = new StoreError(`the store's etcd watch ended (${err.message}); restart the manager`);
      for (const x of this.waiters.splice(0)) x.reject(this.broken);
    });
    this.watcher = w;
  }

  // ---- the watched copy ----

  private kindMap(kind: Kind): Map<string, StoredObject> {
    let m = this.cache.get(kind);
    if (!m) this.cache.set(kind, (m = new Map()));
    return m;
  }

  private okey(kind: Kind, id: string): string {
    return `${this.prefix}o/${kind}/${id}`;
  }
  private nkey(kind: Kind, name: string): string {
    return `${this.prefix}n/${kind}/${hmac(this.nameKey, `${kind}\0${name.toLowerCase()}`).toString('hex')}`;
  }
  private xkey(kind: Kind, id: string): string {
    return `${this.prefix}x/${kind}/${id}`;
  }

  /** kind and ID of an object key, or null for other keys. */
  private parseObjKey(key: string): { kind: Kind; id: string } | null {
    if (!key.startsWith(this.prefix + 'o/')) return null;
    const rest = key.slice(this.prefix.length + 2);
    const slash = rest.indexOf('/');
    const kind = rest.slice(0, slash) as Kind;
    if (slash < 0 || !KINDS.includes(kind)) throw new StoreError(`etcd key ${key} is not a runsecrets object key`);
    return { kind, id: rest.slice(slash + 1) };
  }

  private decode(kind: Kind, id: string, kv: KV): StoredObject {
    const plain = open(this.objKey, kv.value, Buffer.from(`${kind}\0${id}`), `object ${kind}/${id}`);
    const b = JSON.parse(plain.toString('utf8')) as Body;
    plain.fill(0);
    return { kind, id, name: b.name, version: Number(kv.mod_revision), createdAt: b.createdAt, updatedAt: b.updatedAt, spec: b.spec };
  }

  private encode(o: StoredObject): Buffer {
    const plain = Buffer.from(JSON.stringify({ name: o.name, createdAt: o.createdAt, updatedAt: o.updatedAt, spec: o.spec } satisfies Body));
    try {
      return seal(this.objKey, plain, Buffer.from(`${o.kind}\0${o.id}`));
    } finally {
      plain.fill(0);
    }
  }

  private applyPut(kv: KV): StoredObject | null {
    const key = kv.key.toString();
    const ok = this.parseObjKey(key);
    if (ok) {
      const obj = this.decode(ok.kind, ok.id, kv);
      this.kindMap(ok.kind).set(ok.id, obj);
      return obj;
    }
    if (key === this.prefix + 'rev') this.lastCommit = Number(kv.mod_revision);
    else if (key !== this.prefix + 'key_check') this.aux.set(key, { mod: Number(kv.mod_revision), value: kv.value.toString() });
    return null;
  }

  private onData(events: { type: string; kv: KV; prev_kv?: KV }[], headerRev: number): void {
    const out: StoreEvent[] = [];
    for (const e of events) {
      const key = e.kv.key.toString();
      const index = Number(e.kv.mod_revision);
      if (e.type === 'Put') {
        const obj = this.applyPut(e.kv);
        if (obj) out.push({ index, action: e.kv.create_revision === e.kv.mod_revision ? 'create' : 'update', kind: obj.kind, id: obj.id, object: obj });
      } else {
        const ok = this.parseObjKey(key);
        if (ok) {
          const prev = this.kindMap(ok.kind).get(ok.id) ?? null;
          this.kindMap(ok.kind).delete(ok.id);
          out.push({ index, action: 'delete', kind: ok.kind, id: ok.id, object: prev });
        } else this.aux.delete(key);
      }
      this.rev = Math.max(this.rev, index);
    }
    this.rev = Math.max(this.rev, headerRev);
    const ready = this.waiters.filter((w) => w.rev <= this.rev);
    this.waiters = this.waiters.filter((w) => w.rev > this.rev);
    for (const w of ready) w.resolve();
    for (const e of out) this.emit(e);
  }

  private emit(e: StoreEvent): void {
    for (const l of this.live) {
      try {
        l(e);
      } catch {
        // a watcher's failure is its own
      }
    }
  }

  /** Resolves once the copy has seen revision rev. */
  private caughtUp(rev: number): Promise<void> {
    if (this.rev >= rev) return Promise.resolve();
    if (this.closed) return Promise.reject(new StoreClosedError());
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => this.waiters.push({ rev, resolve, reject }));
  }

  // ---- reads ----

  async currentIndex(): Promise<number> {
    return this.rev;
  }

  async get<K extends Kind>(kind: K, id: string): Promise<Stored<K> | null> {
    return (this.kindMap(kind).get(id) as Stored<K> | undefined) ?? null;
  }

  async getByName<K extends Kind>(kind: K, name: string): Promise<Stored<K> | null> {
    const id = this.aux.get(this.nkey(kind, name))?.value;
    return id === undefined ? null : ((this.kindMap(kind).get(id) as Stored<K> | undefined) ?? null);
  }

  async list<K extends Kind>(kind: K): Promise<Stored<K>[]> {
    return [...this.kindMap(kind).values()] as Stored<K>[];
  }

  // ---- writes ----

  /** A view of the copy that records each key it reads with the revision it saw (0: absent). */
  private recordingView(reads: Map<string, number>): ReadView {
    return {
      get: (kind, id) => {
        const o = this.kindMap(kind).get(id) ?? null;
        reads.set(this.okey(kind, id), o?.version ?? 0);
        return o;
      },
      nameHolder: (kind, name) => {
        const k = this.nkey(kind, name);
        const a = this.aux.get(k);
        reads.set(k, a?.mod ?? 0);
        return a?.value ?? null;
      },
      referrers: (kind, id, by) => {
        const k = this.xkey(kind, id);
        reads.set(k, this.aux.get(k)?.mod ?? 0);
        return [...this.kindMap(by).values()].filter((o) => references(o, kind, id));
      },
    };
  }

  /** The keys a planned commit writes, the last write of a key winning (a transaction may name a key once). */
  private writesOf(planned: PlannedWrite[]): Map<string, Put> {
    const ops = new Map<string, Put>();
    for (const { action, obj, previous } of planned) {
      if (previous?.name != null && previous.name.toLowerCase() !== (action === 'delete' ? null : obj.name?.toLowerCase())) {
        ops.set(this.nkey(obj.kind, previous.name), { put: false });
      }
      if (action === 'delete') {
        ops.set(this.okey(obj.kind, obj.id), { put: false });
        ops.set(this.xkey(obj.kind, obj.id), { put: false });
        continue;
      }
      ops.set(this.okey(obj.kind, obj.id), { put: true, value: this.encode(obj) });
      if (obj.name !== null) ops.set(this.nkey(obj.kind, obj.name), { put: true, value: obj.id });
      for (const r of referencesOf(obj)) ops.set(this.xkey(r.kind, r.id), { put: true, value: '' });
    }
    ops.set(this.prefix + 'rev', { put: true, value: '' });
    return ops;
  }

  async commit(writes: WriteOp[], guards: Guard[] = []): Promise<StoredObject[]> {
    if (writes.length === 0) return [];
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      if (this.closed) throw new StoreClosedError();
      if (this.broken) throw this.broken;
      const reads = new Map<string, number>();
      const planned = planCommit(this.recordingView(reads), writes, guards, nowRfc3339Nano());
      let txn = this.client.if(this.prefix + 'key_check', 'Create', '>', 0);
      for (const [key, mod] of reads) txn = mod === 0 ? txn.and(key, 'Create', '==', 0) : txn.and(key, 'Mod', '==', mod);
      const ops = [...this.writesOf(planned)].map(([key, p]) => (p.put ? this.client.put(key).value(p.value) : this.client.delete().key(key)));
      const res = await txn.then(...ops).commit();
      if (res.succeeded) {
        const rev = Number(res.header.revision);
        await this.caughtUp(rev); // read-your-writes: the copy has this commit when the caller gets it
        return planned.map((p) => (p.action === 'delete' ? p.obj : { ...p.obj, version: rev }));
      }
      // Something this commit read has changed: wait for the copy to hold the latest commit, then plan again.
      const latest = await this.client.get(this.prefix + 'rev').exec();
      const mod = Number((latest.kvs[0] as KV | undefined)?.mod_revision ?? 0);
      await this.caughtUp(mod);
    }
    throw new StoreError(`commit gave up after ${MAX_TRIES} tries: what it reads kept changing`);
  }

  // ---- watch ----

  async watch(fromIndex: number, listener: (e: StoreEvent) => void): Promise<Unwatch> {
    if (this.closed) throw new StoreClosedError();
    const upTo = this.lastCommit; // the copy holds every commit up to here; later ones come live
    if (fromIndex >= upTo) {
      this.live.add(listener);
      return () => this.live.delete(listener);
    }
    // etcd's history from fromIndex + 1 must still be there (a read at that revision fails once it is compacted).
    try {
      await this.client.get(this.prefix + 'rev').revision(fromIndex + 1).exec();
    } catch (err) {
      if (/compacted/i.test((err as Error).message)) throw new CompactedError(fromIndex, upTo + 1);
      throw err;
    }
    // Replay (fromIndex, upTo] from etcd's history, buffering live events meanwhile; then hand over to live.
    const buffered: StoreEvent[] = [];
    const buffer = (e: StoreEvent): void => void buffered.push(e);
    this.live.add(buffer);
    const replayed: StoreEvent[] = [];
    let w: Watcher | null = null;
    try {
      await new Promise<void>((resolve, reject) => {
        const b = this.client.watch().prefix(this.prefix).startRevision(String(fromIndex + 1)).withPreviousKV();
        b.create().then(
          (created) => {
            w = created;
            // etcd cancels a watch only for compaction here (checked just before; compacted meanwhile). The watcher
            // is gone then: cancelling it again upsets the client.
            created.on('error', () => {
              w = null;
              reject(new CompactedError(fromIndex, upTo + 1));
            });
            created.on('data', (res) => {
              for (const e of res.events as { type: string; kv: KV; prev_kv?: KV }[]) {
                const index = Number(e.kv.mod_revision);
                if (index > upTo) continue;
                const key = e.kv.key.toString();
                const ok = this.parseObjKey(key);
                if (ok && e.type === 'Put') {
                  replayed.push({ index, action: e.kv.create_revision === e.kv.mod_revision ? 'create' : 'update', kind: ok.kind, id: ok.id, object: this.decode(ok.kind, ok.id, e.kv) });
                } else if (ok) {
                  replayed.push({ index, action: 'delete', kind: ok.kind, id: ok.id, object: e.prev_kv ? this.decode(ok.kind, ok.id, e.prev_kv) : null });
                }
                if (key === this.prefix + 'rev' && index === upTo) resolve();
              }
            });
          },
          (err: Error) => reject(/compacted/i.test(err.message) ? new CompactedError(fromIndex, upTo + 1) : err),
        );
      });
    } catch (err) {
      this.live.delete(buffer);
      void (w as Watcher | null)?.cancel().catch(() => undefined);
      throw err;
    }
    // No await from here until the listener is live: no event can fall between the replay and live delivery.
    this.live.delete(buffer);
    void (w as Watcher | null)?.cancel().catch(() => undefined);
    for (const e of replayed) listener(e);
    for (const e of buffered) listener(e);
    this.live.add(listener);
    return () => this.live.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new StoreClosedError());
    this.live.clear();
    await this.watcher?.cancel().catch(() => undefined);
    this.client.close();
  }
}
