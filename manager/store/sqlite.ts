// The embedded Store: one SQLite file in WAL mode with synchronous=FULL, so a write is on disk before its promise
// resolves. Writes are grouped: checks, index assignment and sealing happen here on the main thread; a writer thread
// commits each group in one transaction (one fsync), and while it does, the next group gathers (pipelined group
// commit). A refused write (name taken, stale version) never reaches the disk and does not affect its group.
// Rows hold the kind, the ID, the version, an HMAC of the lower-cased name, and the sealed object; nothing readable.
// Reads are served from the decrypted in-memory copy, which always equals the committed state.
import Database from 'better-sqlite3';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { closeSync, existsSync, openSync } from 'node:fs';
import { deriveKey, hmac, open, seal } from '../../shared/crypto.js';
import { nowRfc3339Nano } from '../../shared/time.js';
import type { Guard, Kind, Store, Stored, StoreEvent, StoredObject, Unwatch, WriteOp } from './types.js';
import { CompactedError, StoreClosedError, StoreIntegrityError } from './errors.js';
import { nameSlot, planCommit, type PlannedWrite, type ReadView } from './plan.js';
import { OneWriteCommits } from './one-write-commits.js';
import { references } from './references.js';
import { StateDigest } from './state-digest.js';
import { FormatError, refuseNewer, STATE_FORMAT } from '../cluster/format.js';
import { WRITER_SOURCE, makeCommitter, type FromWriter, type ToWriter, type Write, type WriterInit } from './sqlite-writer.js';

const SCHEMA_VERSION = 1; // the tables' layout; the state dir's format is user_version (cluster/format.ts)
const MAX_BATCH = 1024; // bounds one transaction's size and the latency of its last member
const MAX_GROUP_BYTES = 16 << 20;
const EVENTS_KEPT = 100_000; // watch history; older watchers must list again

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
  kind TEXT NOT NULL, id TEXT NOT NULL, name_key BLOB, version INTEGER NOT NULL, body BLOB NOT NULL,
  PRIMARY KEY (kind, id)) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS objects_by_name ON objects (kind, name_key) WHERE name_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS events (idx INTEGER PRIMARY KEY, kind TEXT NOT NULL, id TEXT NOT NULL, action TEXT NOT NULL);
`;

interface Body {
  name: string | null;
  createdAt: string;
  updatedAt: string;
  spec: unknown;
}

interface Pending {
  writes: WriteOp[];
  guards: Guard[];
  resolve: (o: StoredObject[]) => void;
  reject: (e: unknown) => void;
}
interface Member {
  pending: Pending;
  events: StoreEvent[];
}
interface InFlight {
  seq: number;
  members: Member[];
  overlay: Map<string, StoredObject | null>;
  names: Map<string, string | null>;
  startIndex: number;
  startDigest: Buffer;
  postedAt: bigint; // hrtime when the group went to the writer
}

type Row = { kind: string; id: string; version: number; body: Buffer };

export interface SqliteStoreOptions {
  path: string;
  dek: Buffer; // the data key; sub-keys for contents and names are derived from it
  /** Where commits run: a writer thread (default; fsync off the main thread) or inline on the main thread. */
  writer?: 'thread' | 'inline';
  /** Called after each committed group: seconds from its hand-off to the writer until COMMIT returned (fsync). */
  onCommit?: (seconds: number, writes: number) => void;
}

/** A copy that owns its exact-size memory, so it can be transferred to the writer thread. */
function own(b: Buffer | null): Uint8Array | null {
  return b === null ? null : new Uint8Array(b);
}

interface WriterPort {
  post(m: ToWriter): void;
  terminate(): Promise<void>;
}

export class SqliteStore extends OneWriteCommits implements Store {
  readonly backend = 'sqlite';
  private readonly db: Database.Database; // this thread's connection: start-up load and watch replay (reads)
  private readonly writer: WriterPort;
  private readonly objKey: Buffer;
  private readonly nameKey: Buffer;
  /** The rows' (kind, ID, version) set, sealed with the index at each commit: rollback of a row is detected. */
  private readonly digest: StateDigest;
  private readonly cache = new Map<Kind, Map<string, StoredObject>>();
  private readonly names = new Map<string, string>(); // `${kind}\0${lower-cased name}` -> id
  private index = 0; // the last index handed out (a group in flight may not have committed it yet)
  private committedIndex = 0; // the last index on disk
  private queue: Pending[] = [];
  private inflight: InFlight | null = null;
  private seq = 0;
  private pumpScheduled = false;
  private groupCount = 0;
  private writeCount = 0;
  private closing = false;
  private closed: Promise<void> | null = null;
  private writerBroken: Error | null = null;
  private onClosed: (() => void) | null = null;
  private onDrained: (() => void) | null = null;
  private readonly watchers = new Set<(e: StoreEvent) => void>();
  private readonly stmt: Record<string, Database.Statement>;
  private readonly onCommit: SqliteStoreOptions['onCommit'];

  constructor(opts: SqliteStoreOptions) {
    super();
    this.onCommit = opts.onCommit;
    this.objKey = deriveKey(opts.dek, 'store objects');
    this.nameKey = deriveKey(opts.dek, 'store names');
    this.digest = new StateDigest(opts.dek);
    // Create the file ourselves with mode 0600; SQLite gives its -wal and -shm files the same mode.
    if (!existsSync(opts.path)) closeSync(openSync(opts.path, 'a', 0o600));
    this.db = new Database(opts.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('secure_delete = ON'); // freed pages are zeroed, so old ciphertexts do not linger
    this.db.exec(SCHEMA);
    this.stmt = {
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      all: this.db.prepare('SELECT kind, id, version, body FROM objects'),
      eventsFrom: this.db.prepare('SELECT idx, kind, id, action FROM events WHERE idx > ? ORDER BY idx'),
      oldestEvent: this.db.prepare('SELECT MIN(idx) AS m FROM events'),
    };
    this.load();
    this.writer = opts.writer === 'inline' ? this.inlineWriter(opts.path) : this.threadWriter(opts.path);
  }

  private threadWriter(path: string): WriterPort {
    const init: WriterInit = { path, sqlitePath: createRequire(import.meta.url).resolve('better-sqlite3') };
    const w = new Worker(WRITER_SOURCE, { eval: true, workerData: init, execArgv: [] });
    w.on('message', (m: FromWriter) => this.onWriter(m));
    w.on('error', (err) => this.onWriter({ type: 'fatal', message: err.message }));
    w.on('exit', () => {
      if (!this.closing) this.onWriter({ type: 'fatal', message: 'the writer thread exited' });
      this.onClosed?.();
    });
    // Byte arrays are handed over, not copied: a cloned view would also copy the whole (pooled) buffer behind it.
    const transfers = (m: ToWriter): ArrayBuffer[] =>
      m.type !== 'commit'
        ? []
        : m.writes.flatMap((x) => (x.op === 'delete' ? [] : [x.body.buffer as ArrayBuffer, ...(x.nameKey ? [x.nameKey.buffer as ArrayBuffer] : [])]));
    return { post: (m) => w.postMessage(m, transfers(m)), terminate: async () => void (await w.terminate()) };
  }

  private inlineWriter(path: string): WriterPort {
    // Results come back on a microtask, so that a commit never re-enters pump() from inside pump().
    const handle = makeCommitter(Database, path, (m) => queueMicrotask(() => this.onWriter(m)));
    return { post: handle, terminate: async () => undefined };
  }

  private load(): void {
    const check = this.stmt.getMeta!.get('key_check') as { value: Buffer } | undefined;
    if (check) {
      const format = this.db.pragma('user_version', { simple: true }) as number;
      refuseNewer(format, 'store.db');
      if (format < STATE_FORMAT) throw new FormatError(`store.db format ${format || 1} is older than this runsecrets (${STATE_FORMAT}); "runsecrets manager run" migrates it`);
      open(this.objKey, check.value, Buffer.from('key_check'), 'the store (its data key does not match)');
    } else {
      this.db.transaction(() => {
        this.stmt.setMeta!.run('key_check', seal(this.objKey, Buffer.from('runsecrets'), Buffer.from('key_check')));
        this.stmt.setMeta!.run('schema', Buffer.from(String(SCHEMA_VERSION)));
        this.db.pragma(`user_version = ${STATE_FORMAT}`);
      })();
    }
    const idx = this.stmt.getMeta!.get('index') as { value: Buffer } | undefined;
    this.index = idx ? Number(idx.value.toString()) : 0;
    this.committedIndex = this.index;
    for (const row of this.stmt.all!.iterate() as IterableIterator<Row>) {
      const obj = this.decode(row);
      if (obj.version > this.index) throw new StoreIntegrityError(`object ${obj.kind}/${obj.id} has version ${obj.version}, beyond the store's index ${this.index}`);
      this.digest.toggle(obj.kind, obj.id, obj.version);
      this.kindMap(obj.kind).set(obj.id, obj);
      if (obj.name !== null) this.names.set(`${obj.kind}\0${obj.name.toLowerCase()}`, obj.id);
    }
    const state = this.stmt.getMeta!.get('state') as { value: Buffer } | undefined;
    if (!state) {
      // A store from before the sealed state (or a new one): its rows as they are now become the reference.
      this.stmt.setMeta!.run('state', this.digest.sealed(this.objKey, this.index));
      return;
    }
    const why = this.digest.mismatch(this.objKey, state.value, this.index);
    if (why) throw new StoreIntegrityError(why);
  }

  private kindMap(kind: Kind): Map<string, StoredObject> {
    let m = this.cache.get(kind);
    if (!m) this.cache.set(kind, (m = new Map()));
    return m;
  }

  private aad(kind: string, id: string, version: number): Buffer {
    return Buffer.from(`${kind}\0${id}\0${version}`);
  }

  private decode(row: Row): StoredObject {
    const plain = open(this.objKey, row.body, this.aad(row.kind, row.id, row.version), `object ${row.kind}/${row.id}`);
    const b = JSON.parse(plain.toString('utf8')) as Body;
    plain.fill(0); // a secret's data (base64) lives on only in the cache's object
    return { kind: row.kind as Kind, id: row.id, name: b.name, version: row.version, createdAt: b.createdAt, updatedAt: b.updatedAt, spec: b.spec };
  }

  private encode(o: StoredObject): Buffer {
    const body: Body = { name: o.name, createdAt: o.createdAt, updatedAt: o.updatedAt, spec: o.spec };
    const plain = Buffer.from(JSON.stringify(body));
    try {
      return seal(this.objKey, plain, this.aad(o.kind, o.id, o.version));
    } finally {
      plain.fill(0);
    }
  }

  private nameKeyOf(kind: Kind, name: string | null): Buffer | null {
    return name === null ? null : hmac(this.nameKey, `${kind}\0${name.toLowerCase()}`);
  }

  // ---- reads: served from the decrypted in-memory copy, which always equals the committed state ----

  async currentIndex(): Promise<number> {
    return this.committedIndex;
  }

  async get<K extends Kind>(kind: K, id: string): Promise<Stored<K> | null> {
    return (this.kindMap(kind).get(id) as Stored<K> | undefined) ?? null;
  }

  async getByName<K extends Kind>(kind: K, name: string): Promise<Stored<K> | null> {
    const id = this.names.get(nameSlot(kind, name));
    return id === undefined ? null : ((this.kindMap(kind).get(id) as Stored<K> | undefined) ?? null);
  }

  async list<K extends Kind>(kind: K): Promise<Stored<K>[]> {
    return [...this.kindMap(kind).values()] as Stored<K>[];
  }

  // ---- writes: checked (plan.ts) and sealed here, committed in groups by the writer thread ----

  commit(writes: WriteOp[], guards: Guard[] = []): Promise<StoredObject[]> {
    if (this.closing) return Promise.reject(new StoreClosedError());
    if (writes.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ writes, guards, resolve, reject });
      // Wait for the end of this event-loop turn: every request read in the same turn joins the same group.
      if (!this.pumpScheduled) {
        this.pumpScheduled = true;
        setImmediate(() => {
          this.pumpScheduled = false;
          this.pump();
        });
      }
    });
  }

  /** Sends the next group to the writer, unless one is in flight (then the group grows until it is back). */
  private pump(): void {
    if (this.inflight || this.queue.length === 0 || this.writerBroken) return;
    const startIndex = this.index;
    const startDigest = this.digest.snapshot();
    const overlay = new Map<string, StoredObject | null>(); // this group's changes, seen by its later members
    const names = new Map<string, string | null>(); // name slot -> holder id, for this group
    const get = (kind: Kind, id: string): StoredObject | null => {
      const k = `${kind}/${id}`;
      return overlay.has(k) ? (overlay.get(k) ?? null) : (this.kindMap(kind).get(id) ?? null);
    };
    const g: ReadView = {
      get,
      nameHolder: (kind, name) => {
        const slot = nameSlot(kind, name);
        return names.has(slot) ? (names.get(slot) ?? null) : (this.names.get(slot) ?? null);
      },
      // Single writer: a scan of the committed copy plus this group's changes is the state the commit lands on.
      referrers: (kind, id, by) => {
        const out: StoredObject[] = [];
        for (const o of this.kindMap(by).values()) if (!overlay.has(`${by}/${o.id}`) && references(o, kind, id)) out.push(o);
        for (const [k, o] of overlay) if (o && k.startsWith(`${by}/`) && references(o, kind, id)) out.push(o);
        return out;
      },
    };
    const members: Member[] = [];
    const writes: Write[] = [];
    let bytes = 0;
    // One group is bounded in members and in bytes (big configs), so that no transaction or message grows huge.
    while (this.queue.length > 0 && members.length < MAX_BATCH && bytes < MAX_GROUP_BYTES) {
      const p = this.queue.shift()!;
      let planned: PlannedWrite[];
      try {
        planned = planCommit(g, p.writes, p.guards, nowRfc3339Nano());
      } catch (err) {
        p.reject(err);
        continue;
      }
      const events: StoreEvent[] = [];
      for (const { action, obj: o, previous } of planned) {
        const index = ++this.index;
        const obj = action === 'delete' ? o : { ...o, version: index };
        const key = `${obj.kind}/${obj.id}`;
        // The row that goes (update, delete) and the one that comes (create, update) in the sealed digest.
        if (previous) this.digest.toggle(obj.kind, obj.id, previous.version);
        if (action !== 'delete') this.digest.toggle(obj.kind, obj.id, obj.version);
        if (previous?.name != null) names.set(nameSlot(obj.kind, previous.name), null);
        if (action === 'delete') {
          overlay.set(key, null);
          writes.push({ op: 'delete', kind: obj.kind, id: obj.id, version: index, action });
        } else {
          overlay.set(key, obj);
          if (obj.name !== null) names.set(nameSlot(obj.kind, obj.name), obj.id);
          const body = own(this.encode(obj))!;
          writes.push({ op: action === 'create' ? 'insert' : 'update', kind: obj.kind, id: obj.id, nameKey: own(this.nameKeyOf(obj.kind, obj.name)), version: index, body, action });
          bytes += body.byteLength;
        }
        events.push({ index, action, kind: obj.kind, id: obj.id, object: obj });
      }
      members.push({ pending: p, events });
    }
    if (writes.length === 0) {
      this.pump();
      this.drained();
      return;
    }
    const seq = ++this.seq;
    this.groupCount++;
    this.writeCount += writes.length;
    this.inflight = { seq, members, overlay, names, startIndex, startDigest, postedAt: process.hrtime.bigint() };
    const state = own(this.digest.sealed(this.objKey, this.index))!;
    const msg: ToWriter = { type: 'commit', seq, writes, index: this.index, state, pruneBelow: this.index > EVENTS_KEPT ? this.index - EVENTS_KEPT : 0 };
    this.writer.post(msg);
  }

  private onWriter(m: FromWriter): void {
    if (m.type === 'committed' || m.type === 'failed') {
      const f = this.inflight;
      if (!f || f.seq !== m.seq) return;
      this.inflight = null;
      if (m.type === 'committed') {
        this.onCommit?.(Number(process.hrtime.bigint() - f.postedAt) / 1e9, f.members.length);
        for (const [key, obj] of f.overlay) {
          const slash = key.indexOf('/');
          const map = this.kindMap(key.slice(0, slash) as Kind);
          if (obj) map.set(key.slice(slash + 1), obj);
          else map.delete(key.slice(slash + 1));
        }
        for (const [slot, holder] of f.names) {
          if (holder === null) this.names.delete(slot);
          else this.names.set(slot, holder);
        }
        this.committedIndex = Math.max(this.committedIndex, ...f.members.map((mem) => mem.events.at(-1)!.index));
        for (const mem of f.members) mem.pending.resolve(mem.events.map((e) => e.object!));
        for (const mem of f.members) for (const e of mem.events) this.emit(e);
      } else {
        // The whole group failed (disk full, I/O error): nothing of it is visible, every caller gets the error.
        this.index = f.startIndex;
        this.digest.restore(f.startDigest);
        const err = new Error(`store write failed: ${m.message}`);
        for (const mem of f.members) mem.pending.reject(err);
      }
      this.pump();
      this.drained();
    } else if (m.type === 'fatal') {
      this.writerBroken = new Error(`store writer failed: ${m.message}`);
      for (const p of this.queue.splice(0)) p.reject(this.writerBroken);
    } else if (m.type === 'closed') {
      this.onClosed?.();
    }
  }

  private emit(e: StoreEvent): void {
    for (const w of this.watchers) {
      try {
        w(e);
      } catch {
        // a watcher's failure is its own; the write is committed regardless
      }
    }
  }

  async watch(fromIndex: number, listener: (e: StoreEvent) => void): Promise<Unwatch> {
    if (fromIndex < this.committedIndex) {
      const oldest = (this.stmt.oldestEvent!.get() as { m: number | null }).m;
      if (oldest === null || fromIndex + 1 < oldest) throw new CompactedError(fromIndex, oldest ?? this.committedIndex + 1);
      for (const e of this.stmt.eventsFrom!.iterate(fromIndex) as IterableIterator<{ idx: number; kind: Kind; id: string; action: StoreEvent['action'] }>) {
        listener({ index: e.idx, action: e.action, kind: e.kind, id: e.id, object: this.kindMap(e.kind).get(e.id) ?? null });
      }
    }
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /**
   * A consistent copy of the committed store in a new file: VACUUM INTO reads in one transaction, so writes going on
   * meanwhile are wholly in it or not at all. Synchronous: nothing else on this thread (a cluster.json or revocation
   * write) can slip between it and the caller's other reads.
   */
  snapshotTo(path: string): void {
    if (this.closing) throw new StoreClosedError();
    this.db.prepare('VACUUM INTO ?').run(path);
  }

  /** Group-commit figures since open: how many groups were committed and how many writes they held. */
  stats(): { groups: number; writes: number } {
    return { groups: this.groupCount, writes: this.writeCount };
  }

  private drained(): void {
    if (!this.inflight && this.queue.length === 0) this.onDrained?.();
  }

  /** Commits what is queued, then closes the file (the writer checkpoints the WAL first). */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.closing = true;
    this.closed = (async () => {
      if (!this.writerBroken && (this.inflight || this.queue.length > 0)) {
        await new Promise<void>((resolve) => {
          this.onDrained = resolve;
          this.drained();
        });
      }
      this.watchers.clear();
      this.db.close(); // our reader first, so the writer's checkpoint can reset the WAL
      await new Promise<void>((resolve) => {
        this.onClosed = resolve;
        const m: ToWriter = { type: 'close' };
        if (this.writerBroken) resolve();
        else this.writer.post(m);
      });
      await this.writer.terminate();
    })();
    return this.closed;
  }
}
