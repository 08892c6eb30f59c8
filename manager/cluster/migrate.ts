// Brings an older state dir to STATE_FORMAT when `manager run` starts (under the pid lock, before anything opens the
// store). Each step is idempotent and cluster.json is written last, so a crash halfway is finished by the next run.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../../shared/log.js';
import { FILES, StateDirError } from './state.js';
import { refuseNewer, STATE_FORMAT } from './format.js';
import { writeFileDurable } from './files.js';

/** 1 -> 2: the store gets the format as its SQLite user_version (and its meta schema row says 2 as well). */
function storeTo2(storePath: string): void {
  const db = new Database(storePath);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const current = db.pragma('user_version', { simple: true }) as number;
    refuseNewer(current, 'store.db');
    if (current >= 2) return;
    db.transaction(() => {
      db.prepare("UPDATE meta SET value = ? WHERE key = 'schema'").run(Buffer.from('2'));
      db.pragma('user_version = 2');
    })();
  } finally {
    db.close();
  }
}

/** Migrates stateDir to STATE_FORMAT; returns the format it was in (equal to STATE_FORMAT: nothing done). */
export function migrateStateDir(stateDir: string, log: Logger): number {
  const path = join(stateDir, FILES.cluster);
  if (!existsSync(path)) return STATE_FORMAT; // no cluster: readClusterConfig says so
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new StateDirError(`${path} cannot be read as JSON: ${(err as Error).message}`);
  }
  const from = raw.format === undefined ? 1 : raw.format;
  if (typeof from !== 'number' || !Number.isInteger(from) || from < 1) throw new StateDirError(`${path}: invalid format ${JSON.stringify(raw.format)}`);
  refuseNewer(from);
  if (from === STATE_FORMAT) return from;
  storeTo2(join(stateDir, FILES.store));
  writeFileDurable(path, JSON.stringify({ ...raw, format: STATE_FORMAT }, null, 2) + '\n'); // last: marks it done
  log.info({ stateDir, from, to: STATE_FORMAT }, 'state dir migrated');
  return from;
}
