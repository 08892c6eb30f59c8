// Backups of a running manager's state dir, and restores into a new one. A backup holds what a restore needs to
// serve every object, node and certificate as before: cluster.json, the CA and manager certificates, the sealed
// private keys, revoked.json, admin-certs.json and a consistent snapshot of store.db. Never kek.key, manager.pid, the socket or the
// first-run unlock key.
//
// File layout: MAGIC, a 4-byte big-endian header length, the header (JSON: what opens the data key, which the KEK
// wraps, as in cluster.json), then the body sealed with a key derived from the data key, the header as its AAD.
// Restoring thus needs the unlock key (autolock) or the KEK file, as starting the manager does.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { deriveKey, open, seal, DecryptError } from '../../shared/crypto.js';
import { nowRfc3339Nano } from '../../shared/time.js';
import { REVOKED_FILE } from '../pki/revocation.js';
import { ADMIN_CERTS_FILE } from '../pki/admin-certs.js';
import { SqliteStore } from '../store/sqlite.js';
import { refuseNewer, STATE_FORMAT } from './format.js';
import { writeFileDurable } from './files.js';
import { FILES, InvalidUnlockKeyError, openDataKey, parseUnlockKey, type ClusterConfig } from './state.js';

const MAGIC = Buffer.from('RUNSECRETS-BACKUP\n');
const BACKUP_FORMAT = 1;
const MAX_HEADER = 64 * 1024;
/** The files a backup carries, cluster.json last: its presence marks a complete restore. */
const CARRIED = [FILES.caCert, FILES.caKey, FILES.managerCert, FILES.managerKey, FILES.tokenKey, REVOKED_FILE, ADMIN_CERTS_FILE, FILES.store, FILES.cluster] as const;

export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

export interface BackupHeader {
  backupFormat: number;
  stateFormat: number;
  clusterId: string;
  autolock: boolean;
  kekSalt: string;
  wrappedDek: string;
  createdAt: string;
  /** The store index the snapshot holds. */
  index: number;
}

function backupKey(dek: Buffer): Buffer {
  return deriveKey(dek, 'backup');
}

/** Body: for each file, a 2-byte name length, the name, a 4-byte data length, the data. */
function packFiles(files: Array<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of files) {
    const n = Buffer.from(name);
    const head = Buffer.alloc(6 + n.length);
    head.writeUInt16BE(n.length, 0);
    n.copy(head, 2);
    head.writeUInt32BE(data.length, 2 + n.length);
    parts.push(head, data);
  }
  return Buffer.concat(parts);
}

function unpackFiles(body: Buffer, what: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const allowed = new Set<string>(CARRIED);
  let off = 0;
  while (off < body.length) {
    if (off + 2 > body.length) throw new BackupError(`${what} is corrupt: truncated file entry`);
    const nlen = body.readUInt16BE(off);
    if (off + 2 + nlen + 4 > body.length) throw new BackupError(`${what} is corrupt: truncated file entry`);
    const name = body.subarray(off + 2, off + 2 + nlen).toString();
    const dlen = body.readUInt32BE(off + 2 + nlen);
    const start = off + 6 + nlen;
    if (start + dlen > body.length) throw new BackupError(`${what} is corrupt: file ${name} is truncated`);
    if (!allowed.has(name) || files.has(name)) throw new BackupError(`${what} is corrupt: unexpected file ${JSON.stringify(name)}`);
    files.set(name, body.subarray(start, start + dlen));
    off = start + dlen;
  }
  for (const f of [FILES.cluster, FILES.store, FILES.caCert, FILES.caKey, FILES.managerCert, FILES.managerKey, FILES.tokenKey]) {
    if (!files.has(f)) throw new BackupError(`${what} is corrupt: ${f} is missing`);
  }
  return files;
}

/** The store index held by a store file (its meta row), read without the data key. */
function storeIndex(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'index'").get() as { value: Buffer } | undefined;
    return row ? Number(row.value.toString()) : 0;
  } finally {
    db.close();
  }
}

/**
 * A backup of a running manager's state. Everything is read synchronously, in one turn of the event loop, so no
 * write to cluster.json or revoked.json (made on this thread) can fall between the files and the store snapshot.
 */
export function makeBackup(stateDir: string, config: ClusterConfig, dek: Buffer, store: SqliteStore): { bytes: Buffer; header: BackupHeader } {
  const snap = join(stateDir, `.backup-${process.pid}-${randomBytes(6).toString('hex')}.db`);
  let files: Array<[string, Buffer]>;
  let index: number;
  try {
    store.snapshotTo(snap);
    index = storeIndex(snap);
    files = [];
    for (const f of CARRIED) {
      if (f === FILES.store) files.push([f, readFileSync(snap)]);
      else if (existsSync(join(stateDir, f))) files.push([f, readFileSync(join(stateDir, f))]);
    }
  } finally {
    rmSync(snap, { force: true });
  }
  const header: BackupHeader = {
    backupFormat: BACKUP_FORMAT,
    stateFormat: STATE_FORMAT,
    clusterId: config.clusterId,
    autolock: config.autolock,
    kekSalt: config.kekSalt,
    wrappedDek: config.wrappedDek,
    createdAt: nowRfc3339Nano(),
    index,
  };
  const headerBytes = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(headerBytes.length);
  const aad = Buffer.concat([MAGIC, len, headerBytes]);
  return { bytes: Buffer.concat([aad, seal(backupKey(dek), packFiles(files), aad)]), header };
}

function isHeader(v: unknown): v is BackupHeader {
  if (typeof v !== 'object' || v === null) return false;
  const h = v as Record<string, unknown>;
  return (
    typeof h.backupFormat === 'number' &&
    typeof h.stateFormat === 'number' &&
    typeof h.clusterId === 'string' &&
    typeof h.autolock === 'boolean' &&
    typeof h.kekSalt === 'string' &&
    typeof h.wrappedDek === 'string' &&
    typeof h.createdAt === 'string' &&
    typeof h.index === 'number'
  );
}

/** The header of a backup file, parsed (nothing decrypted yet). */
export function readBackupHeader(bytes: Buffer, what: string): { header: BackupHeader; aad: Buffer; sealed: Buffer } {
  if (bytes.length < MAGIC.length + 4 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new BackupError(`${what} is not a runsecrets backup (made by "runsecrets manager backup")`);
  }
  const hlen = bytes.readUInt32BE(MAGIC.length);
  const hstart = MAGIC.length + 4;
  if (hlen > MAX_HEADER || hstart + hlen > bytes.length) throw new BackupError(`${what} is corrupt: truncated header`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.subarray(hstart, hstart + hlen).toString('utf8'));
  } catch {
    throw new BackupError(`${what} is corrupt: its header is not JSON`);
  }
  if (!isHeader(parsed)) throw new BackupError(`${what} is corrupt: its header lacks fields`);
  if (parsed.backupFormat !== BACKUP_FORMAT) throw new BackupError(`${what}: backup format ${parsed.backupFormat} is not known to this runsecrets (${BACKUP_FORMAT}): upgrade runsecrets`);
  refuseNewer(parsed.stateFormat, `${what}: state dir`);
  return { header: parsed, aad: bytes.subarray(0, hstart + hlen), sealed: bytes.subarray(hstart + hlen) };
}

/** The key given for a restore: the unlock key's text (autolock) or the KEK file's bytes. */
export type RestoreKey = { unlockKey: string } | { kek: Buffer };

export interface RestoreResult {
  header: BackupHeader;
  config: ClusterConfig;
  objects: number;
}

/** Makes a new state dir from a backup. Refuses a target that is not empty; removes what it wrote if it fails. */
export async function restoreBackup(bytes: Buffer, what: string, targetDir: string, key: RestoreKey): Promise<RestoreResult> {
  const { header, aad, sealed } = readBackupHeader(bytes, what);
  let kekRaw: Buffer;
  if (header.autolock) {
    if (!('unlockKey' in key)) throw new BackupError(`${what} is of an autolocked cluster: give its unlock key (--unlock-key-file, or on stdin)`);
    const raw = parseUnlockKey(key.unlockKey);
    if (!raw) throw new BackupError('wrong key: this is not an unlock key (RSKEY-1-…)');
    kekRaw = raw;
  } else {
    if (!('kek' in key)) throw new BackupError(`${what} is of a cluster without autolock: give the KEK file of its state dir (--kek-file .../kek.key)`);
    kekRaw = key.kek;
  }
  let dek: Buffer;
  try {
    dek = openDataKey(header, kekRaw);
  } catch (err) {
    if (err instanceof InvalidUnlockKeyError || err instanceof DecryptError) {
      throw new BackupError(`wrong key: the ${header.autolock ? 'unlock key' : 'KEK file'} does not open ${what} (or its header is damaged)`);
    }
    throw err;
  }
  let body: Buffer;
  try {
    body = open(backupKey(dek), sealed, aad, 'the backup');
  } catch (err) {
    if (err instanceof DecryptError) throw new BackupError(`${what} is corrupt: its contents fail authentication`);
    throw err;
  }
  const files = unpackFiles(body, what);
  const config = JSON.parse(files.get(FILES.cluster)!.toString('utf8')) as ClusterConfig;
  if (config.clusterId !== header.clusterId || config.wrappedDek !== header.wrappedDek) throw new BackupError(`${what} is corrupt: header and cluster.json disagree`);

  if (existsSync(targetDir)) {
    if (!statSync(targetDir).isDirectory()) throw new BackupError(`${targetDir} exists and is not a directory`);
    if (readdirSync(targetDir).length > 0) throw new BackupError(`${targetDir} is not empty: restore into a new or empty directory`);
  }
  mkdirSync(targetDir, { recursive: true, mode: 0o700 });
  chmodSync(targetDir, 0o700);
  try {
    if (!header.autolock) writeFileDurable(join(targetDir, FILES.kek), kekRaw);
    for (const f of CARRIED) {
      const data = files.get(f);
      if (data) writeFileDurable(join(targetDir, f), data);
    }
    // The restored store must open with the data key, as `manager run` will open it.
    const store = new SqliteStore({ path: join(targetDir, FILES.store), dek, writer: 'inline' });
    let objects = 0;
    for (const kind of ['secret', 'config', 'service', 'task', 'node', 'network'] as const) objects += (await store.list(kind)).length;
    await store.close();
    return { header, config, objects };
  } catch (err) {
    for (const f of readdirSync(targetDir)) rmSync(join(targetDir, f), { force: true });
    throw err;
  }
}
