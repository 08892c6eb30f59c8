// The manager's local etcd member (Debian's etcd-server, /usr/bin/etcd): its files under the manager's state dir,
// its command line (mutual TLS on client and peer traffic, only member certificates admitted), and its supervision:
// start, wait until healthy, restart with backoff when it dies, stop with the manager. etcd's own JSON log lines
// (--logger zap) are passed on through the manager's logger, one structured line each.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { ETCD_CERT_HOSTNAME, type EtcdMemberCert } from '../pki/etcd-certs.js';

/** etcd's own well-known ports, next to the manager's 2377: clients (the managers) on 2379, peers on 2380. */
export const DEFAULT_ETCD_CLIENT_PORT = 2379;
export const DEFAULT_ETCD_PEER_PORT = 2380;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** A member that ran this long before dying starts again at the shortest backoff. */
const STABLE_RUN_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const HEALTH_POLL_MS = 200;

export interface EtcdTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface EtcdMemberPaths {
  dataDir: string;
  tls: EtcdTlsFiles;
}

/** <stateDir>/etcd/data (etcd's data, WAL and snapshots) and <stateDir>/etcd/tls (CA, member cert and key). */
export function etcdMemberPaths(stateDir: string): EtcdMemberPaths {
  const tlsDir = join(stateDir, 'etcd', 'tls');
  return { dataDir: join(stateDir, 'etcd', 'data'), tls: { caFile: join(tlsDir, 'ca.crt'), certFile: join(tlsDir, 'member.crt'), keyFile: join(tlsDir, 'member.key') } };
}

function writePrivate(path: string, data: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Writes the CA and the member's certificate and key (0600, in a 0700 folder) where etcdMemberPaths says. */
export function writeMemberTls(stateDir: string, caPem: string, cert: EtcdMemberCert): EtcdTlsFiles {
  const { tls } = etcdMemberPaths(stateDir);
  const dir = join(stateDir, 'etcd', 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(join(stateDir, 'etcd'), 0o700);
  writePrivate(tls.caFile, caPem);
  writePrivate(tls.keyFile, cert.keyPem);
  writePrivate(tls.certFile, cert.certPem); // last: its presence means the set is complete
  return tls;
}

/** The default URLs of a member on the manager's advertise host: https://HOST:2379 and https://HOST:2380. */
export function defaultMemberUrls(advertiseHost: string): { clientUrl: string; peerUrl: string } {
  const h = advertiseHost.includes(':') ? `[${advertiseHost}]` : advertiseHost;
  return { clientUrl: `https://${h}:${DEFAULT_ETCD_CLIENT_PORT}`, peerUrl: `https://${h}:${DEFAULT_ETCD_PEER_PORT}` };
}

export interface EtcdPeer {
  name: string;
  peerUrl: string;
}

export interface EtcdMemberOptions {
  /** The member's name: the manager's node ID. */
  name: string;
  dataDir: string;
  tls: EtcdTlsFiles;
  /** Listened on and advertised (an address of this host). */
  clientUrl: string;
  peerUrl: string;
  /** Every member at the time this one is first started, itself included (ignored by etcd once it has data). */
  initialCluster: EtcdPeer[];
  /** new: this member founds the cluster; existing: it was added to a running one (membership.ts addMember). */
  clusterState: 'new' | 'existing';
  /** Keeps members of two clusters from joining each other by mistake: the cluster ID. */
  clusterToken: string;
  log: Logger;
  /** The etcd program (default: etcd on PATH). */
  binary?: string;
  /** Passed to etcd after ours (tests: shorter --heartbeat-interval and --election-timeout). */
  extraArgs?: string[];
}

/** etcd's command line for these options: mutual TLS everywhere, only certificates with ETCD_CERT_HOSTNAME. */
export function etcdArgs(o: EtcdMemberOptions): string[] {
  const { caFile, certFile, keyFile } = o.tls;
  return [
    '--name', o.name,
    '--data-dir', o.dataDir,
    '--listen-client-urls', o.clientUrl,
    '--advertise-client-urls', o.clientUrl,
    '--listen-peer-urls', o.peerUrl,
    '--initial-advertise-peer-urls', o.peerUrl,
    '--initial-cluster', o.initialCluster.map((p) => `${p.name}=${p.peerUrl}`).join(','),
    '--initial-cluster-state', o.clusterState,
    '--initial-cluster-token', o.clusterToken,
    '--client-cert-auth', '--trusted-ca-file', caFile, '--cert-file', certFile, '--key-file', keyFile,
    '--client-cert-allowed-hostname', ETCD_CERT_HOSTNAME,
    '--peer-client-cert-auth', '--peer-trusted-ca-file', caFile, '--peer-cert-file', certFile, '--peer-key-file', keyFile,
    '--peer-cert-allowed-hostname', ETCD_CERT_HOSTNAME,
    '--logger', 'zap', '--log-outputs', 'stderr',
    // Old revisions are kept an hour (for watchers catching up), then compacted so that the store stays small.
    '--auto-compaction-mode', 'periodic', '--auto-compaction-retention', '1h',
    ...(o.extraArgs ?? []),
  ];
}

type Level = 'debug' | 'info' | 'warn' | 'error';
/** etcd is chatty at info (every raft step at start): its info lines are our debug ones. */
const LEVELS: Record<string, Level> = { debug: 'debug', info: 'debug', warn: 'warn', error: 'error', dpanic: 'error', panic: 'error', fatal: 'error' };

/** One line of etcd's zap output as a structured log line of ours. */
function relayLine(log: Logger, line: string): void {
  if (line.trim() === '') return;
  let rec: Record<string, unknown> | null = null;
  try {
    const v: unknown = JSON.parse(line);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) rec = v as Record<string, unknown>;
  } catch {
    // not JSON (a Go panic's stack): passed on as text
  }
  if (!rec) return log.warn({ line: line.slice(0, 2000) }, 'etcd output');
  const { level, msg, ts: _ts, ...fields } = rec;
  log[LEVELS[String(level)] ?? 'info']({ etcd: fields }, `etcd: ${String(msg ?? '')}`);
}

/** GET /health on the member's client URL with its certificate: true when it answers {"health":"true"}. */
export function memberHealthy(clientUrl: string, tls: EtcdTlsFiles, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(
      `${clientUrl}/health`,
      { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), agent: false, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { health?: unknown };
            resolve(res.statusCode === 200 && body.health === 'true');
          } catch {
            resolve(false);
          }
        });
        res.on('error', () => resolve(false));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** A supervised etcd member process. */
export class EtcdMember {
  private child: ChildProcess | null = null;
  private stopping = false;
  private attempt = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private exited: Promise<void> = Promise.resolve();
  /** How many times the member was started again after it died. */
  restarts = 0;

  constructor(private readonly o: EtcdMemberOptions) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get clientUrl(): string {
    return this.o.clientUrl;
  }

  /** Starts the process; from now on it is started again whenever it dies, until stop(). */
  start(): void {
    if (this.child || this.stopping) return;
    mkdirSync(this.o.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(this.o.dataDir, 0o700); // etcd refuses (warns about) a data dir others can read
    this.spawnOnce();
  }

  private spawnOnce(): void {
    const log = this.o.log;
    const child = spawn(this.o.binary ?? 'etcd', etcdArgs(this.o), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.startedAt = Date.now();
    log.info({ pid: child.pid, name: this.o.name, clientUrl: this.o.clientUrl, peerUrl: this.o.peerUrl, state: this.o.clusterState }, 'etcd member started');
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (l) => relayLine(log, l));
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => log.error({ err: errorMessage(err), binary: this.o.binary ?? 'etcd' }, 'cannot start etcd (is the Debian package etcd-server installed?)'));
      child.once('close', (code, signal) => {
        if (this.child === child) this.child = null;
        resolve();
        if (this.stopping) return log.info({ code, signal }, 'etcd member stopped');
        this.scheduleRestart(code, signal);
      });
    });
  }

  private scheduleRestart(code: number | null, signal: NodeJS.Signals | null): void {
    if (Date.now() - this.startedAt >= STABLE_RUN_MS) this.attempt = 0;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.attempt, 16));
    this.attempt++;
    this.o.log.warn({ code, signal, restartInMs: delay, attempt: this.attempt }, 'etcd member died: restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      this.restarts++;
      this.spawnOnce();
    }, delay);
  }

  /** Resolves once the member answers healthy (it has a leader); rejects after timeoutMs. */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await memberHealthy(this.o.clientUrl, this.o.tls)) return;
      if (this.stopping) throw new Error(`etcd member ${this.o.name} is stopping`);
      if (Date.now() >= deadline) throw new Error(`etcd member ${this.o.name} at ${this.o.clientUrl} not healthy after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, HEALTH_POLL_MS));
    }
  }

  /** Stops supervision and the process (SIGTERM, then SIGKILL after a grace period). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
