// The store's committer: the only code that writes SQLite rows. It commits each group it is given in one
// transaction; with WAL and synchronous=FULL, COMMIT returns once the WAL is fsynced.
// It runs either in a writer thread (the default: the fsync then does not stop the main thread, which gathers the
// next group meanwhile: a pipelined group commit) or inline on the main thread. `makeCommitter` is self-contained
// on purpose: the thread runs its source text (Function.prototype.toString), so it must not use imports.
import type Database from 'better-sqlite3';

export interface WriterInit {
  path: string;
  sqlitePath: string; // resolved path of better-sqlite3, since an eval'd worker resolves from nowhere useful
}

export type Write =
  | { op: 'insert' | 'update'; kind: string; id: string; nameKey: Uint8Array | null; version: number; body: Uint8Array; action: string }
  | { op: 'delete'; kind: string; id: string; version: number; action: string };

/** state: the sealed digest of the rows after this group, with its index (state-digest.ts). */
export type ToWriter = { type: 'commit'; seq: number; writes: Write[]; index: number; state: Uint8Array; pruneBelow: number } | { type: 'close' };
export type FromWriter =
  | { type: 'ready' }
  | { type: 'committed'; seq: number }
  | { type: 'failed'; seq: number; message: string; code: string }
  | { type: 'closed' }
  | { type: 'fatal'; message: string };

type DatabaseCtor = new (path: string) => Database.Database;

/** Opens the file and returns the message handler that commits groups and closes. */
export function makeCommitter(Db: DatabaseCtor, path: string, post: (m: FromWriter) => void): (m: ToWriter) => void {
  const db = new Db(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('secure_delete = ON');
  const insert = db.prepare('INSERT INTO objects (kind, id, name_key, version, body) VALUES (?, ?, ?, ?, ?)');
  const update = db.prepare('UPDATE objects SET name_key = ?, version = ?, body = ? WHERE kind = ? AND id = ?');
  const del = db.prepare('DELETE FROM objects WHERE kind = ? AND id = ?');
  const event = db.prepare('INSERT INTO events (idx, kind, id, action) VALUES (?, ?, ?, ?)');
  const setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  const prune = db.prepare('DELETE FROM events WHERE idx <= ?');
  const buf = (u: Uint8Array | null): Buffer | null => (u === null ? null : Buffer.from(u.buffer, u.byteOffset, u.byteLength));
  const commit = db.transaction((writes: Write[], index: number, state: Uint8Array, pruneBelow: number) => {
    for (const w of writes) {
      if (w.op === 'insert') insert.run(w.kind, w.id, buf(w.nameKey), w.version, buf(w.body));
      else if (w.op === 'update') {
        if (update.run(buf(w.nameKey), w.version, buf(w.body), w.kind, w.id).changes !== 1) throw new Error(`update of a missing row ${w.kind}/${w.id}`);
      } else if (del.run(w.kind, w.id).changes !== 1) throw new Error(`delete of a missing row ${w.kind}/${w.id}`);
      event.run(w.version, w.kind, w.id, w.action);
    }
    setMeta.run('index', Buffer.from(String(index)));
    setMeta.run('state', buf(state));
    if (pruneBelow > 0) prune.run(pruneBelow);
  });
  return (m: ToWriter): void => {
    if (m.type === 'commit') {
      try {
        commit(m.writes, m.index, m.state, m.pruneBelow);
        post({ type: 'committed', seq: m.seq });
      } catch (err) {
        const e = err as { message?: string; code?: string };
        post({ type: 'failed', seq: m.seq, message: String(e.message ?? err), code: String(e.code ?? '') });
      }
    } else {
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // the WAL stays; it is replayed on the next open
      }
      db.close();
      post({ type: 'closed' });
    }
  };
}

/** The writer thread's program: the committer's own source, wired to the thread's port. */
export const WRITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const makeCommitter = ${makeCommitter.toString()};
let onMessage;
try {
  onMessage = makeCommitter(require(workerData.sqlitePath), workerData.path, (m) => parentPort.postMessage(m));
} catch (err) {
  parentPort.postMessage({ type: 'fatal', message: String((err && err.message) || err) });
  throw err;
}
parentPort.on('message', onMessage);
parentPort.postMessage({ type: 'ready' });
`;
