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
import type { CreateInput, Kind, Store, StoreEvent, StoredObject, Unwatch } from './types.js';
import { CompactedError, ExistsError, NameConflictError, NotFoundError, SequenceConflictError, StoreClosedError, StoreIntegrityError } from './errors.js';
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

/** What a queued write sees while its group is formed: committed state plus the group's earlier members. */
interface GroupView {
  get(kind: Kind, id: string): StoredObject | null;
  nameHolder(kind: Kind, name: string): string | null;
  nextIndex(): number;
}
interface OpResult {
  obj: StoredObject;
  action: StoreEvent['action'];
  previous?: StoredObject;
  version?: number; // a delete's own index
}
type Op = (g: GroupView) => OpResult;
interface Pending {
  op: Op;
  resolve: (o: StoredObject) => void;
  reject: (e: unknown) => void;
}
interface Member {
  pending: Pending;
  event: StoreEvent;
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

export class SqliteStore implements Store {
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

  async get<S>(kind: Kind, id: string): Promise<StoredObject<S> | null> {
    return (this.kindMap(kind).get(id) as StoredObject<S> | undefined) ?? null;
  }

  async getByName<S>(kind: Kind, name: string): Promise<StoredObject<S> | null> {
    const id = this.names.get(`${kind}\0${name.toLowerCase()}`);
    return id === undefined ? null : ((this.kindMap(kind).get(id) as StoredObject<S> | undefined) ?? null);
  }

  async list<S>(kind: Kind): Promise<StoredObject<S>[]> {
    return [...this.kindMap(kind).values()] as StoredObject<S>[];
  }

  // ---- writes: checked and sealed here, committed in groups by the writer thread ----

  create<S>(kind: Kind, input: CreateInput<S>): Promise<StoredObject<S>> {
    return this.enqueue((g) => {
      if (g.get(kind, input.id) !== null) throw new ExistsError();
      if (input.name !== null && g.nameHolder(kind, input.name) !== null) throw new NameConflictError();
      const now = nowRfc3339Nano();
      const obj: StoredObject = { kind, id: input.id, name: input.name, version: g.nextIndex(), createdAt: now, updatedAt: now, spec: input.spec };
      return { obj, action: 'create' };
    }) as Promise<StoredObject<S>>;
  }

  update<S>(kind: Kind, id: string, expectedVersion: number, spec: S, name?: string | null): Promise<StoredObject<S>> {
    return this.enqueue((g) => {
      const cur = g.get(kind, id);
      if (!cur) throw new NotFoundError();
      if (cur.version !== expectedVersion) throw new SequenceConflictError();
      const newName = name === undefined ? cur.name : name;
      if (newName !== null) {
        const holder = g.nameHolder(kind, newName);
        if (holder !== null && holder !== id) throw new NameConflictError();
      }
      const obj: StoredObject = { ...cur, name: newName, version: g.nextIndex(), updatedAt: nowRfc3339Nano(), spec };
      return { obj, action: 'update', previous: cur };
    }) as Promise<StoredObject<S>>;
  }

  delete<S>(kind: Kind, id: string): Promise<StoredObject<S>> {
    return this.enqueue((g) => {
      const cur = g.get(kind, id);
      if (!cur) throw new NotFoundError();
      return { obj: cur, action: 'delete', version: g.nextIndex() };
    }) as Promise<StoredObject<S>>;
  }

  private enqueue(op: Op): Promise<StoredObject> {
    if (this.closing) return Promise.reject(new StoreClosedError());
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
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
    const g: GroupView = {
      get: (kind, id) => {
        const k = `${kind}/${id}`;
        return overlay.has(k) ? (overlay.get(k) ?? null) : (this.kindMap(kind).get(id) ?? null);
      },
      nameHolder: (kind, name) => {
        const slot = `${kind}\0${name.toLowerCase()}`;
        return names.has(slot) ? (names.get(slot) ?? null) : (this.names.get(slot) ?? null);
      },
      nextIndex: () => ++this.index,
    };
    const members: Member[] = [];
    const writes: Write[] = [];
    let bytes = 0;
    // One group is bounded in members and in bytes (big configs), so that no transaction or message grows huge.
    while (this.queue.length > 0 && members.length < MAX_BATCH && bytes < MAX_GROUP_BYTES) {
      const p = this.queue.shift()!;
      const before = this.index;
      let r: OpResult;
      try {
        r = p.op(g);
      } catch (err) {
        this.index = before;
        p.reject(err);
        continue;
      }
      const { obj, action } = r;
      const key = `${obj.kind}/${obj.id}`;
      // The row that goes (update, delete) and the one that comes (create, update) in the sealed digest.
      if (action !== 'create') this.digest.toggle(obj.kind, obj.id, action === 'update' ? r.previous!.version : obj.version);
      if (action !== 'delete') this.digest.toggle(obj.kind, obj.id, obj.version);
      if (action === 'delete') {
        overlay.set(key, null);
        if (obj.name !== null) names.set(`${obj.kind}\0${obj.name.toLowerCase()}`, null);
        writes.push({ op: 'delete', kind: obj.kind, id: obj.id, version: r.version ?? this.index, action });
      } else {
        overlay.set(key, obj);
        if (r.previous?.name != null) names.set(`${obj.kind}\0${r.previous.name.toLowerCase()}`, null);
        if (obj.name !== null) names.set(`${obj.kind}\0${obj.name.toLowerCase()}`, obj.id);
        writes.push({
          op: action === 'create' ? 'insert' : 'update',
          kind: obj.kind,
          id: obj.id,
          nameKey: own(this.nameKeyOf(obj.kind, obj.name)),
          version: obj.version,
          body: own(this.encode(obj))!,
          action,
        });
        bytes += (writes.at(-1) as { body: Uint8Array }).body.byteLength;
      }
      members.push({ pending: p, event: { index: writes.at(-1)!.version, action, kind: obj.kind, id: obj.id, object: obj } });
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
        this.committedIndex = Math.max(this.committedIndex, ...f.members.map((mem) => mem.event.index));
        for (const mem of f.members) mem.pending.resolve(mem.event.object!);
        for (const mem of f.members) this.emit(mem.event);
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
