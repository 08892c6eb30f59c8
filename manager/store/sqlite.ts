// The embedded Store: one SQLite file in WAL mode with synchronous=FULL, so a write is on disk before its promise
// resolves. Concurrent writes are grouped: every write queued during one turn of the event loop runs in one
// transaction (each in its own savepoint, so one failure does not undo the others) and shares one fsync.
// Rows hold the kind, the ID, the version, an HMAC of the lower-cased name, and the sealed object; nothing readable.
import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync } from 'node:fs';
import { deriveKey, hmac, open, seal } from '../../shared/crypto.js';
import { nowRfc3339Nano } from '../../shared/time.js';
import type { CreateInput, Kind, Store, StoreEvent, StoredObject, Unwatch } from './types.js';
import {
  CompactedError,
  ExistsError,
  NameConflictError,
  NotFoundError,
  SequenceConflictError,
  StoreClosedError,
} from './errors.js';

const SCHEMA_VERSION = 1;
const MAX_BATCH = 512; // bounds one transaction's size and the latency of its last member
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
  run: () => { object: StoredObject; event: StoreEvent };
  resolve: (o: StoredObject) => void;
  reject: (e: unknown) => void;
}

type Row = { kind: string; id: string; version: number; body: Buffer };

export interface SqliteStoreOptions {
  path: string;
  dek: Buffer; // the data key; sub-keys for contents and names are derived from it
}

export class SqliteStore implements Store {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  private readonly objKey: Buffer;
  private readonly nameKey: Buffer;
  private readonly cache = new Map<Kind, Map<string, StoredObject>>();
  private index = 0;
  private queue: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly watchers = new Set<(e: StoreEvent) => void>();
  private readonly stmt: Record<string, Database.Statement>;

  constructor(opts: SqliteStoreOptions) {
    this.objKey = deriveKey(opts.dek, 'store objects');
    this.nameKey = deriveKey(opts.dek, 'store names');
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
      version: this.db.prepare('SELECT version FROM objects WHERE kind = ? AND id = ?'),
      nameTaken: this.db.prepare('SELECT id FROM objects WHERE kind = ? AND name_key = ?'),
      insert: this.db.prepare('INSERT INTO objects (kind, id, name_key, version, body) VALUES (?, ?, ?, ?, ?)'),
      update: this.db.prepare('UPDATE objects SET name_key = ?, version = ?, body = ? WHERE kind = ? AND id = ?'),
      delete: this.db.prepare('DELETE FROM objects WHERE kind = ? AND id = ?'),
      event: this.db.prepare('INSERT INTO events (idx, kind, id, action) VALUES (?, ?, ?, ?)'),
      prune: this.db.prepare('DELETE FROM events WHERE idx <= ?'),
      eventsFrom: this.db.prepare('SELECT idx, kind, id, action FROM events WHERE idx > ? ORDER BY idx'),
      oldestEvent: this.db.prepare('SELECT MIN(idx) AS m FROM events'),
    };
    this.load();
  }

  private load(): void {
    const check = this.stmt.getMeta!.get('key_check') as { value: Buffer } | undefined;
    if (check) {
      open(this.objKey, check.value, Buffer.from('key_check'), 'the store (its data key does not match)');
    } else {
      this.stmt.setMeta!.run('key_check', seal(this.objKey, Buffer.from('runsecrets'), Buffer.from('key_check')));
      this.stmt.setMeta!.run('schema', Buffer.from(String(SCHEMA_VERSION)));
    }
    const idx = this.stmt.getMeta!.get('index') as { value: Buffer } | undefined;
    this.index = idx ? Number(idx.value.toString()) : 0;
    for (const row of this.stmt.all!.iterate() as IterableIterator<Row>) {
      const obj = this.decode(row);
      this.kindMap(obj.kind).set(obj.id, obj);
    }
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
    return { kind: row.kind as Kind, id: row.id, name: b.name, version: row.version, createdAt: b.createdAt, updatedAt: b.updatedAt, spec: b.spec };
  }

  private encode(o: StoredObject): Buffer {
    const body: Body = { name: o.name, createdAt: o.createdAt, updatedAt: o.updatedAt, spec: o.spec };
    return seal(this.objKey, Buffer.from(JSON.stringify(body)), this.aad(o.kind, o.id, o.version));
  }

  private nameKeyOf(kind: Kind, name: string | null): Buffer | null {
    return name === null ? null : hmac(this.nameKey, `${kind}\0${name.toLowerCase()}`);
  }

  // ---- reads: served from the decrypted in-memory copy, which always equals the committed state ----

  async currentIndex(): Promise<number> {
    return this.index;
  }

  async get<S>(kind: Kind, id: string): Promise<StoredObject<S> | null> {
    return (this.kindMap(kind).get(id) as StoredObject<S> | undefined) ?? null;
  }

  async getByName<S>(kind: Kind, name: string): Promise<StoredObject<S> | null> {
    const lower = name.toLowerCase();
    for (const o of this.kindMap(kind).values()) if (o.name !== null && o.name.toLowerCase() === lower) return o as StoredObject<S>;
    return null;
  }

  async list<S>(kind: Kind): Promise<StoredObject<S>[]> {
    return [...this.kindMap(kind).values()] as StoredObject<S>[];
  }

  // ---- writes: queued, then committed in groups ----

  create<S>(kind: Kind, input: CreateInput<S>): Promise<StoredObject<S>> {
    return this.enqueue(kind, input.id, (pendingGet) => {
      if (pendingGet() !== null || this.stmt.version!.get(kind, input.id)) throw new ExistsError();
      const nameKey = this.nameKeyOf(kind, input.name);
      if (nameKey && this.stmt.nameTaken!.get(kind, nameKey)) throw new NameConflictError();
      const now = nowRfc3339Nano();
      const obj: StoredObject = { kind, id: input.id, name: input.name, version: ++this.index, createdAt: now, updatedAt: now, spec: input.spec };
      this.stmt.insert!.run(kind, obj.id, nameKey, obj.version, this.encode(obj));
      return { obj, action: 'create' };
    }) as Promise<StoredObject<S>>;
  }

  update<S>(kind: Kind, id: string, expectedVersion: number, spec: S, name?: string | null): Promise<StoredObject<S>> {
    return this.enqueue(kind, id, (pendingGet) => {
      const cur = pendingGet();
      if (!cur) throw new NotFoundError();
      if (cur.version !== expectedVersion) throw new SequenceConflictError();
      const newName = name === undefined ? cur.name : name;
      const nameKey = this.nameKeyOf(kind, newName);
      if (nameKey && newName?.toLowerCase() !== cur.name?.toLowerCase()) {
        const holder = this.stmt.nameTaken!.get(kind, nameKey) as { id: string } | undefined;
        if (holder && holder.id !== id) throw new NameConflictError();
      }
      const obj: StoredObject = { ...cur, name: newName, version: ++this.index, updatedAt: nowRfc3339Nano(), spec };
      this.stmt.update!.run(nameKey, obj.version, this.encode(obj), kind, id);
      return { obj, action: 'update' };
    }) as Promise<StoredObject<S>>;
  }

  delete<S>(kind: Kind, id: string): Promise<StoredObject<S>> {
    return this.enqueue(kind, id, (pendingGet) => {
      const cur = pendingGet();
      if (!cur) throw new NotFoundError();
      this.stmt.delete!.run(kind, id);
      ++this.index;
      return { obj: cur, action: 'delete', deleted: true };
    }) as Promise<StoredObject<S>>;
  }

  // Overlay of this batch's not yet committed changes, so that later writes in a batch see earlier ones.
  private overlay = new Map<string, StoredObject | null>();

  private enqueue(
    kind: Kind,
    id: string,
    op: (pendingGet: () => StoredObject | null) => { obj: StoredObject; action: StoreEvent['action']; deleted?: boolean },
  ): Promise<StoredObject> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    const key = `${kind}/${id}`;
    return new Promise((resolve, reject) => {
      this.queue.push({
        run: () => {
          const pendingGet = (): StoredObject | null =>
            this.overlay.has(key) ? (this.overlay.get(key) ?? null) : (this.kindMap(kind).get(id) ?? null);
          const r = op(pendingGet);
          this.overlay.set(key, r.deleted ? null : r.obj);
          this.stmt.event!.run(this.index, kind, id, r.action);
          return { object: r.obj, event: { index: this.index, action: r.action, kind, id, object: r.obj } };
        },
        resolve: resolve as (o: StoredObject) => void,
        reject,
      });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue.splice(0, MAX_BATCH);
    if (this.queue.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    if (batch.length === 0) return;
    const startIndex = this.index;
    const results: ({ ok: true; object: StoredObject; event: StoreEvent } | { ok: false; err: unknown })[] = [];
    this.overlay = new Map();
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (const p of batch) {
        const before = this.index;
        this.db.exec('SAVEPOINT op');
        try {
          const r = p.run();
          this.db.exec('RELEASE op');
          results.push({ ok: true, ...r });
        } catch (err) {
          this.db.exec('ROLLBACK TO op');
          this.db.exec('RELEASE op');
          this.index = before;
          results.push({ ok: false, err: mapSqliteError(err) });
        }
      }
      if (this.index !== startIndex) {
        this.stmt.setMeta!.run('index', Buffer.from(String(this.index)));
        if (this.index > EVENTS_KEPT) this.stmt.prune!.run(this.index - EVENTS_KEPT);
      }
      this.db.exec('COMMIT'); // with synchronous=FULL this returns after the WAL is fsynced
    } catch (err) {
      // The whole group failed (disk full, I/O error): nothing of it is visible, every caller gets the error.
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.index = startIndex;
      this.overlay = new Map();
      for (const p of batch) p.reject(err);
      return;
    }
    for (const [key, obj] of this.overlay) {
      const slash = key.indexOf('/');
      const m = this.kindMap(key.slice(0, slash) as Kind);
      if (obj) m.set(key.slice(slash + 1), obj);
      else m.delete(key.slice(slash + 1));
    }
    this.overlay = new Map();
    batch.forEach((p, i) => {
      const r = results[i]!;
      if (r.ok) p.resolve(r.object);
      else p.reject(r.err);
    });
    for (const r of results) if (r.ok) this.emit(r.event);
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
    if (fromIndex < this.index) {
      const oldest = (this.stmt.oldestEvent!.get() as { m: number | null }).m;
      if (oldest === null || fromIndex + 1 < oldest) throw new CompactedError(fromIndex, oldest ?? this.index + 1);
      for (const e of this.stmt.eventsFrom!.iterate(fromIndex) as IterableIterator<{ idx: number; kind: Kind; id: string; action: StoreEvent['action'] }>) {
        listener({ index: e.idx, action: e.action, kind: e.kind, id: e.id, object: this.kindMap(e.kind).get(e.id) ?? null });
      }
    }
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** Commits what is queued, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.queue.length > 0) this.flush();
    this.closed = true;
    this.watchers.clear();
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
  }
}

function mapSqliteError(err: unknown): unknown {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return String((err as Error).message).includes('name_key') ? new NameConflictError() : new ExistsError();
  }
  return err;
}
