// The state directory: what `manager init` makes and `manager run` opens.
//   cluster.json       cluster identity, the wrapped data key, join-token hashes (no secrets)      0600
//   kek.key            the key-encryption key, only without autolock                             0600
//   ca.crt, manager.crt                                                                           0600
//   ca.key.sealed, manager.key.sealed, token.key.sealed: private keys sealed with the data key    0600
//   store.db (+ -wal, -shm): the encrypted object store                                           0600
//   etcd/data, etcd/tls  instead of store.db with `init --store etcd`: the local member (etcd/member.ts)  0700
//   revoked.json       revoked certificate serials                                                0600
//   unlock-key.first-run  autolock only: the unlock key for the first `manager run`, which deletes it   0600
// With autolock the KEK is derived from the unlock key alone, so once the first run has consumed
// unlock-key.first-run (Docker's `swarm init --autolock` is unlocked until the next restart) nothing on disk opens
// the data key.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { deriveKey, open, randomKey, seal, DecryptError } from '../../shared/crypto.js';
import { newId } from '../../shared/ids.js';
import { nowRfc3339Nano } from '../../shared/time.js';
import { caDigestBase36 } from '../../shared/pki.js';
import { ClusterCA, issueWithNewKey } from '../pki/ca.js';
import { formatToken, tokenSecret, tokenState, verifyToken, type TokenRole, type TokenState } from '../pki/tokens.js';
import { fsyncDir, writeFileDurable } from './files.js';
import { SqliteStore } from '../store/sqlite.js';
import { refuseNewer, STATE_FORMAT } from './format.js';
import { normalizeAdvertiseAddr } from './advertise.js';
import { etcdUrls } from './etcd-urls.js';
import type { ClusterSettings } from './settings.js';

export const FILES = {
  cluster: 'cluster.json',
  kek: 'kek.key',
  caCert: 'ca.crt',
  caKey: 'ca.key.sealed',
  managerCert: 'manager.crt',
  managerKey: 'manager.key.sealed',
  tokenKey: 'token.key.sealed',
  store: 'store.db',
  firstRunKey: 'unlock-key.first-run',
  // During a root CA rotation only: the new root and the manager's certificate under it (sealed keys, each sealed
  // under the name it takes when the rotation completes, ca.key.sealed and manager.key.sealed).
  nextCaCert: 'ca-next.crt',
  nextCaKey: 'ca-next.key.sealed',
  nextManagerCert: 'manager-next.crt',
  nextManagerKey: 'manager-next.key.sealed',
} as const;

/** Where each rotation file goes when the rotation completes: keys first, so that no certificate is without its key. */
const ROTATION_MOVES: [string, string][] = [
  [FILES.nextCaKey, FILES.caKey],
  [FILES.nextCaCert, FILES.caCert],
  [FILES.nextManagerKey, FILES.managerKey],
  [FILES.nextManagerCert, FILES.managerCert],
];

const UNLOCK_PREFIX = 'RSKEY-1-';
export const DEFAULT_PORT = 2377;

export interface ClusterConfig {
  format: number;
  clusterId: string;
  nodeId: string;
  createdAt: string;
  updatedAt: string;
  version: number; // Docker's swarm object version: bumps on token or unlock-key rotation
  autolock: boolean;
  kekSalt: string; // base64
  wrappedDek: string; // base64, sealed with the KEK
  caDigest: string;
  advertiseAddr: string;
  tokens: Record<TokenRole, TokenState>;
  /** Docker's Dispatcher.HeartbeatPeriod (`--dispatcher-heartbeat`) in ms; absent: the default (5 s). */
  heartbeatMs?: number;
  /** `manual`: nodes join pending and get nothing until `node accept`; absent: auto (Docker's behaviour). */
  joinApproval?: JoinApproval;
  /** Docker's Orchestration.TaskHistoryRetentionLimit; absent: 5. */
  taskHistory?: number;
  /** Docker's CAConfig.NodeCertExpiry in ms, for node certificates issued from now on; absent: 90 days. */
  nodeCertExpiryMs?: number;
  /** Docker's swarm Spec.Labels. */
  labels?: Record<string, string>;
  /** Docker's CAConfig.ForceRotate as last set; absent: 0. */
  forceRotate?: number;
  /** A root CA rotation in progress (Docker's RootRotationInProgress): the new root is in ca-next.crt.
   * completing: the files are being moved in (a crash then is finished at the next open). */
  rootRotation?: { startedAt: string; completing?: boolean };
  /** Where objects are kept; absent: the embedded SQLite file (store.db), as every state dir made before etcd. */
  store?: StoreChoice;
}

/** `manager init --store etcd`: a local etcd member supervised by the manager, at these URLs (https://HOST:PORT). */
export interface EtcdStoreChoice {
  kind: 'etcd';
  clientUrl: string;
  peerUrl: string;
}
export type StoreChoice = { kind: 'sqlite' } | EtcdStoreChoice;

/** The etcd member's settings when the cluster keeps its objects on etcd; null for SQLite. */
export function etcdStoreOf(config: ClusterConfig): EtcdStoreChoice | null {
  return config.store?.kind === 'etcd' ? config.store : null;
}

export type JoinApproval = 'auto' | 'manual';
export function isJoinApproval(s: string): s is JoinApproval {
  return s === 'auto' || s === 'manual';
}

export class InvalidUnlockKeyError extends Error {
  constructor() {
    super('swarm could not be unlocked: invalid key provided');
  }
}

export class StateDirError extends Error {}

export function hasCluster(stateDir: string): boolean {
  return existsSync(join(stateDir, FILES.cluster));
}

export function readClusterConfig(stateDir: string): ClusterConfig {
  const path = join(stateDir, FILES.cluster);
  if (!existsSync(path)) {
    throw new StateDirError(`${stateDir} holds no cluster (no ${FILES.cluster}); run "runsecrets manager init --state-dir ${stateDir}" first`);
  }
  const c = JSON.parse(readFileSync(path, 'utf8')) as ClusterConfig;
  refuseNewer(c.format);
  if (c.format !== STATE_FORMAT) {
    throw new StateDirError(`${path}: state dir format ${String(c.format)} is older than this runsecrets (${STATE_FORMAT}); "runsecrets manager run" migrates it`);
  }
  return c;
}

function writeConfig(stateDir: string, c: ClusterConfig): void {
  writeFileDurable(join(stateDir, FILES.cluster), JSON.stringify(c, null, 2) + '\n');
}

export function formatUnlockKey(raw: Buffer): string {
  return UNLOCK_PREFIX + raw.toString('base64').replace(/=+$/, '');
}

export function parseUnlockKey(key: string): Buffer | null {
  const k = key.trim();
  if (!k.startsWith(UNLOCK_PREFIX)) return null;
  const b64 = k.slice(UNLOCK_PREFIX.length);
  if (!/^[A-Za-z0-9+/]{43}$/.test(b64)) return null;
  const raw = Buffer.from(b64, 'base64');
  return raw.length === 32 ? raw : null;
}

function kekFrom(raw: Buffer, salt: Buffer): Buffer {
  return deriveKey(raw, 'kek', salt);
}

function dekAad(clusterId: string): Buffer {
  return Buffer.from(`dek:${clusterId}`);
}

/** The first non-internal IPv4 address, for the join command; loopback if there is none. */
export function defaultAdvertiseAddr(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return `${a.address}:${DEFAULT_PORT}`;
  }
  return `127.0.0.1:${DEFAULT_PORT}`;
}

function sanFor(advertiseAddr: string): { dnsNames: string[]; ipAddresses: string[] } {
  const host = advertiseAddr.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const isIp = /^[\d.]+$/.test(host) || host.includes(':');
  const ips = new Set(['127.0.0.1', '::1']);
  const dns = new Set(['localhost', 'runsecrets-manager', hostname()]);
  (isIp ? ips : dns).add(host);
  return { dnsNames: [...dns], ipAddresses: [...ips] };
}

export interface InitResult {
  config: ClusterConfig;
  workerToken: string;
  managerToken: string;
  unlockKey: string | null;
}

/** Makes a cluster in stateDir. Refuses a dir that holds one; removes what it wrote if it fails halfway. */
export interface InitOptions {
  autolock: boolean;
  advertiseAddr?: string;
  heartbeatMs?: number;
  joinApproval?: JoinApproval;
  /** Keep objects on a local etcd member at these addresses (IP:PORT; absent ones: 2379/2380 on the advertise
   * host, cluster/etcd-urls.ts); absent: SQLite. */
  etcd?: { clientAddr?: string; peerAddr?: string };
}

export async function initCluster(stateDir: string, opts: InitOptions): Promise<InitResult> {
  if (existsSync(stateDir)) {
    if (!statSync(stateDir).isDirectory()) throw new StateDirError(`${stateDir} exists and is not a directory`);
    const ours = Object.values(FILES).filter((f) => existsSync(join(stateDir, f)));
    if (ours.length > 0) {
      throw new StateDirError(`${stateDir} already holds a cluster (found ${ours.join(', ')}); refusing to touch it`);
    }
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  chmodSync(stateDir, 0o700);
  const before = new Set(readdirSync(stateDir));
  try {
    return await writeNewCluster(stateDir, opts);
  } catch (err) {
    for (const f of readdirSync(stateDir)) if (!before.has(f)) rmSync(join(stateDir, f), { force: true });
    throw err;
  }
}

async function writeNewCluster(stateDir: string, opts: InitOptions): Promise<InitResult> {
  const clusterId = newId();
  const nodeId = newId();
  const advertiseAddr = opts.advertiseAddr === undefined ? defaultAdvertiseAddr() : normalizeAdvertiseAddr(opts.advertiseAddr, DEFAULT_PORT);
  const etcd = opts.etcd ? etcdUrls(advertiseAddr, opts.etcd.clientAddr, opts.etcd.peerAddr) : null; // bad addresses: refused before any file
  const dek = randomKey();
  const salt = randomBytes(16);
  let kekRaw: Buffer;
  let unlockKey: string | null = null;
  if (opts.autolock) {
    kekRaw = randomKey();
    unlockKey = formatUnlockKey(kekRaw);
    writeFileDurable(join(stateDir, FILES.firstRunKey), unlockKey + '\n');
  } else {
    kekRaw = randomKey();
    writeFileDurable(join(stateDir, FILES.kek), kekRaw);
  }
  const kek = kekFrom(kekRaw, salt);
  const { ca, keyPem: caKeyPem } = await ClusterCA.create(clusterId);
  const server = await issueWithNewKey(ca, { role: 'manager', nodeId, ...sanFor(advertiseAddr) });
  const tokenKey = randomKey();
  const sealKey = deriveKey(dek, 'state files');
  writeFileDurable(join(stateDir, FILES.caCert), ca.certPem);
  writeFileDurable(join(stateDir, FILES.caKey), seal(sealKey, Buffer.from(caKeyPem), Buffer.from(FILES.caKey)));
  writeFileDurable(join(stateDir, FILES.managerCert), server.certPem);
  writeFileDurable(join(stateDir, FILES.managerKey), seal(sealKey, Buffer.from(server.keyPem), Buffer.from(FILES.managerKey)));
  writeFileDurable(join(stateDir, FILES.tokenKey), seal(sealKey, tokenKey, Buffer.from(FILES.tokenKey)));
  // An empty store, keyed to this DEK. etcd's member is first started (and its store keyed) by `manager run`.
  if (!etcd) await new SqliteStore({ path: join(stateDir, FILES.store), dek }).close();
  const now = nowRfc3339Nano();
  const config: ClusterConfig = {
    format: STATE_FORMAT,
    clusterId,
    nodeId,
    createdAt: now,
    updatedAt: now,
    version: 1,
    autolock: opts.autolock,
    kekSalt: salt.toString('base64'),
    wrappedDek: seal(kek, dek, dekAad(clusterId)).toString('base64'),
    caDigest: caDigestBase36(ca.certPem),
    advertiseAddr,
    tokens: { worker: tokenState(tokenKey, 'worker', 1), manager: tokenState(tokenKey, 'manager', 1) },
  };
  if (opts.heartbeatMs !== undefined) config.heartbeatMs = opts.heartbeatMs;
  if (opts.joinApproval === 'manual') config.joinApproval = 'manual';
  if (etcd) config.store = { kind: 'etcd', ...etcd };
  writeConfig(stateDir, config); // last: its presence marks a complete cluster
  return {
    config,
    workerToken: formatToken(config.caDigest, tokenSecret(tokenKey, 'worker', 1)),
    managerToken: formatToken(config.caDigest, tokenSecret(tokenKey, 'manager', 1)),
    unlockKey,
  };
}

/** The data key, unwrapped with the raw KEK (the unlock key's 32 bytes, or kek.key's). A wrong key throws
 * InvalidUnlockKeyError under autolock, DecryptError naming the data key otherwise. */
export function openDataKey(config: Pick<ClusterConfig, 'autolock' | 'kekSalt' | 'wrappedDek' | 'clusterId'>, kekRaw: Buffer): Buffer {
  try {
    return open(kekFrom(kekRaw, Buffer.from(config.kekSalt, 'base64')), Buffer.from(config.wrappedDek, 'base64'), dekAad(config.clusterId), 'the data key');
  } catch (err) {
    if (config.autolock && err instanceof DecryptError) throw new InvalidUnlockKeyError();
    throw err;
  }
}

/** The unlock key init left for the first run, removed from disk as it is taken; null when there is none. */
export function takeFirstRunUnlockKey(stateDir: string): string | null {
  const path = join(stateDir, FILES.firstRunKey);
  let key: string;
  try {
    key = readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  rmSync(path, { force: true });
  fsyncDir(stateDir);
  return key;
}

/** A root rotation's new root and the manager's certificate under it. */
export interface RotationTarget {
  ca: ClusterCA;
  serverCertPem: string;
  serverKeyPem: string;
}

/** Moves the rotation files over the current ones (each rename atomic; those already moved are skipped). */
function finishRotationMoves(stateDir: string): void {
  for (const [from, to] of ROTATION_MOVES) {
    if (existsSync(join(stateDir, from))) renameSync(join(stateDir, from), join(stateDir, to));
  }
  fsyncDir(stateDir);
}

/** The cluster with its keys open: what a running, unlocked manager holds in memory. */
export class OpenCluster {
  private constructor(
    readonly stateDir: string,
    public config: ClusterConfig,
    readonly dek: Buffer,
    /** The root: what node certificates chain to, what GET /swarm shows as TrustRoot. */
    public ca: ClusterCA,
    public serverCertPem: string,
    public serverKeyPem: string,
    private readonly tokenKey: Buffer,
    private unlockKeyText: string | null,
  ) {}

  /** Opens the data key with the KEK file, or with the unlock key when autolocked. */
  static async open(stateDir: string, unlockKey?: string): Promise<OpenCluster> {
    const config = readClusterConfig(stateDir);
    let kekRaw: Buffer;
    if (config.autolock) {
      const raw = unlockKey === undefined ? null : parseUnlockKey(unlockKey);
      if (!raw) throw new InvalidUnlockKeyError();
      kekRaw = raw;
    } else {
      kekRaw = readFileSync(join(stateDir, FILES.kek));
    }
    const dek = openDataKey(config, kekRaw);
    const sealKey = deriveKey(dek, 'state files');
    const unseal = (f: string): Buffer => open(sealKey, readFileSync(join(stateDir, f)), Buffer.from(f), f);
    if (config.rootRotation?.completing) finishRotationMoves(stateDir);
    const caCertPem = readFileSync(join(stateDir, FILES.caCert), 'utf8');
    const ca = await ClusterCA.load(caCertPem, unseal(FILES.caKey).toString(), config.clusterId);
    let next: RotationTarget | null = null;
    if (config.rootRotation && !config.rootRotation.completing && existsSync(join(stateDir, FILES.nextManagerCert))) {
      const sealed = (f: string, as: string): string => open(sealKey, readFileSync(join(stateDir, f)), Buffer.from(as), f).toString();
      next = {
        ca: await ClusterCA.load(readFileSync(join(stateDir, FILES.nextCaCert), 'utf8'), sealed(FILES.nextCaKey, FILES.caKey), config.clusterId),
        serverCertPem: readFileSync(join(stateDir, FILES.nextManagerCert), 'utf8'),
        serverKeyPem: sealed(FILES.nextManagerKey, FILES.managerKey),
      };
    }
    const opened = new OpenCluster(
      stateDir,
      config,
      dek,
      ca,
      readFileSync(join(stateDir, FILES.managerCert), 'utf8'),
      unseal(FILES.managerKey).toString(),
      unseal(FILES.tokenKey),
      config.autolock ? (unlockKey ?? '').trim() : null,
    );
    opened.next = next;
    // A completion that a crash interrupted is finished (its files moved above); a rotation whose files are gone
    // (a backup taken mid-rotation carries none) is dropped: nodes keep the root they have.
    if (config.rootRotation && !next) opened.save({ ...config, caDigest: caDigestBase36(caCertPem), rootRotation: undefined });
    return opened;
  }

  /** The root rotation's target (new root and manager certificate), or null when none is in progress. */
  next: RotationTarget | null = null;

  /** The CA that signs node certificates now: the new root during a rotation. */
  get signingCa(): ClusterCA {
    return this.next?.ca ?? this.ca;
  }

  /** The roots a node or the manager trusts now: during a rotation the old and the new one (PEM bundle). */
  get trustBundle(): string {
    return this.next ? this.ca.certPem + this.next.ca.certPem : this.ca.certPem;
  }

  /**
   * Starts a root rotation (Docker's ForceRotate, or a root given as SigningCACert/Key): a new root, and the manager's certificate under it, kept beside
   * the current ones until every node has a certificate from it. A rotation in progress is replaced (its nodes
   * move again), as a new ForceRotate does in swarmkit.
   */
  async startRootRotation(given?: { ca: ClusterCA; keyPem: string }): Promise<void> {
    const { ca, keyPem } = given ?? (await ClusterCA.create(this.config.clusterId));
    const server = await issueWithNewKey(ca, { role: 'manager', nodeId: this.config.nodeId, ...sanFor(this.config.advertiseAddr) });
    const sealKey = deriveKey(this.dek, 'state files');
    writeFileDurable(join(this.stateDir, FILES.nextCaKey), seal(sealKey, Buffer.from(keyPem), Buffer.from(FILES.caKey)));
    writeFileDurable(join(this.stateDir, FILES.nextCaCert), ca.certPem);
    writeFileDurable(join(this.stateDir, FILES.nextManagerKey), seal(sealKey, Buffer.from(server.keyPem), Buffer.from(FILES.managerKey)));
    writeFileDurable(join(this.stateDir, FILES.nextManagerCert), server.certPem);
    this.save({ ...this.config, rootRotation: { startedAt: nowRfc3339Nano() } });
    this.next = { ca, serverCertPem: server.certPem, serverKeyPem: server.keyPem };
  }

  /** Every node moved: the new root replaces the old one (which is no longer trusted), and the join tokens change
   * with the root's digest, as Docker's do. Synchronous: nothing interleaves. */
  completeRootRotation(): void {
    const next = this.next;
    if (!next) return;
    this.save({ ...this.config, rootRotation: { ...(this.config.rootRotation ?? { startedAt: nowRfc3339Nano() }), completing: true } });
    finishRotationMoves(this.stateDir);
    this.ca = next.ca;
    this.serverCertPem = next.serverCertPem;
    this.serverKeyPem = next.serverKeyPem;
    this.next = null;
    this.save({ ...this.config, caDigest: caDigestBase36(next.ca.certPem), rootRotation: undefined });
  }

  get storePath(): string {
    return join(this.stateDir, FILES.store);
  }

  joinToken(role: TokenRole): string {
    return formatToken(this.config.caDigest, tokenSecret(this.tokenKey, role, this.config.tokens[role].generation));
  }

  verifyJoinToken(token: string): TokenRole | null {
    return verifyToken(token, this.config.caDigest, this.config.tokens);
  }

  save(next: ClusterConfig): void {
    next.version = this.config.version + 1;
    next.updatedAt = nowRfc3339Nano();
    writeConfig(this.stateDir, next); // durable first, then in memory
    this.config = next;
  }

  /** Changes where agents are told to join (`manager update --advertise-addr`). The manager's TLS certificate
   * keeps the names it was issued with (agents check the CA and the manager role, not the name). */
  setAdvertiseAddr(addr: string): string {
    const advertiseAddr = normalizeAdvertiseAddr(addr, DEFAULT_PORT);
    this.save({ ...this.config, advertiseAddr });
    return advertiseAddr;
  }

  rotateJoinToken(role: TokenRole): void {
    const generation = this.config.tokens[role].generation + 1;
    this.save({ ...this.config, tokens: { ...this.config.tokens, [role]: tokenState(this.tokenKey, role, generation) } });
  }

  setJoinApproval(mode: JoinApproval): void {
    if ((this.config.joinApproval ?? 'auto') === mode) return;
    this.save({ ...this.config, joinApproval: mode });
  }

  /**
   * Applies the swarm settings (POST /swarm/update). Autolock on: the data key is wrapped under a new unlock key
   * (returned) and kek.key is removed, so the next start needs the key; off: under a new kek.key. Each step is
   * durable before the next, and a crash between them leaves a cluster that opens as the config file says.
   */
  applySettings(next: ClusterSettings): void {
    const base: ClusterConfig = { ...this.config, taskHistory: next.taskHistory, nodeCertExpiryMs: next.nodeCertExpiryMs, heartbeatMs: next.heartbeatMs, labels: next.labels, forceRotate: next.forceRotate };
    if (next.autolock === this.config.autolock) {
      this.save(base);
      return;
    }
    const raw = randomKey();
    const salt = randomBytes(16);
    const wrapped = seal(kekFrom(raw, salt), this.dek, dekAad(this.config.clusterId)).toString('base64');
    const kekPath = join(this.stateDir, FILES.kek);
    if (!next.autolock) writeFileDurable(kekPath, raw); // first: the config below names a wrap only it opens
    this.save({ ...base, autolock: next.autolock, kekSalt: salt.toString('base64'), wrappedDek: wrapped });
    if (next.autolock) {
      rmSync(kekPath, { force: true }); // after: until the config is durable, the old wrap needs it
      fsyncDir(this.stateDir);
      this.unlockKeyText = formatUnlockKey(raw);
    } else this.unlockKeyText = null;
  }

  /** The current unlock key, or null without autolock. */
  unlockKey(): string | null {
    return this.unlockKeyText;
  }

  /** A new unlock key: the data key is wrapped again under a KEK derived from it; the old key stops working. */
  rotateUnlockKey(): string {
    if (!this.config.autolock) throw new Error('no unlock key is set');
    const raw = randomKey();
    const salt = randomBytes(16);
    const wrapped = seal(kekFrom(raw, salt), this.dek, dekAad(this.config.clusterId));
    this.save({ ...this.config, kekSalt: salt.toString('base64'), wrappedDek: wrapped.toString('base64') });
    this.unlockKeyText = formatUnlockKey(raw);
    return this.unlockKeyText;
  }
}
