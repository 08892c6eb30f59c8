// Joining a cluster: pin the CA by the token's digest, then trade a CSR and the token for a node certificate.
// The node key never leaves this host; key, certificate and CA are kept 0600 in the state dir for later runs.
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { caDigestBase36, identityOfCert, parseSubject, ROLE_OU } from '../../shared/cert-identity.js';
import { parseToken } from '../../shared/join-token.js';

export const DEFAULT_STATE_DIR = '/var/lib/runsecrets-agent';
const FILES = { key: 'node.key', cert: 'node.crt', ca: 'ca.crt', managerId: 'manager.id' } as const;

export interface NodeIdentity {
  nodeId: string;
  keyPem: string;
  certPem: string;
  caPem: string;
  /** The manager's node ID (its certificate's CN), pinned at join; undefined in a state dir from before pinning. */
  managerId?: string;
}

import { formatManagerAddr, type ManagerAddr } from '../../shared/manager-addr.js';
import { errorMessage } from '../../shared/errors.js';
import type { ManagerList } from './manager-list.js';
export { parseManagerAddr, type ManagerAddr } from '../../shared/manager-addr.js';

/**
 * The manager must present a manager certificate of the pinned CA whose node ID (CN) is the one pinned at join:
 * another certificate with OU swarm-manager from the same CA (say, one minted with a leaked CA key or obtained
 * some other way) is not our manager. `pinnedId` undefined: only at join, before the manager's ID is known.
 */
export function managerCertCheck(pinnedId: string | readonly string[] | undefined): (host: string, cert: PeerCertificate) => Error | undefined {
  const pinned = pinnedId === undefined ? undefined : typeof pinnedId === 'string' ? [pinnedId] : pinnedId;
  return (_host, cert) => {
    const s = parseSubject(`OU=${cert.subject?.OU ?? ''}\nCN=${cert.subject?.CN ?? ''}`);
    if (s.OU !== ROLE_OU.manager) return new Error(`the server's certificate is not a manager's (OU "${s.OU ?? ''}")`);
    if (pinned !== undefined && !pinned.includes(s.CN ?? '')) {
      return new Error(`the server's certificate names manager ${JSON.stringify(s.CN ?? '')}, not the manager ${pinned[0] ?? ''} pinned at join${pinned.length > 1 ? ' nor another the cluster named' : ''}`);
    }
    return undefined;
  };
}

function writeSecretFile(path: string, data: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function requestJson(opts: https.RequestOptions, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; peerCn: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = https.request(
      { ...opts, agent: false, minVersion: 'TLSv1.3', headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} },
      (res) => {
        const peer = (res.socket as TLSSocket).getPeerCertificate?.() as PeerCertificate | undefined;
        const peerCn = typeof peer?.subject?.CN === 'string' ? peer.subject.CN : '';
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown>, peerCn });
          } catch {
            reject(new Error(`the manager answered ${res.statusCode ?? 0} with a body that is not JSON`));
          }
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error('the manager did not answer within 15 s')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The identity kept in stateDir, or null when this host has not joined yet. */
export function loadIdentity(stateDir: string): NodeIdentity | null {
  const p = (f: string) => join(stateDir, f);
  finishStoredCert(stateDir); // a renewal stored whole before a crash is moved in; a partial one is dropped
  if (!existsSync(p(FILES.key)) || !existsSync(p(FILES.cert)) || !existsSync(p(FILES.ca))) return null;
  const certPem = readFileSync(p(FILES.cert), 'utf8');
  const id: NodeIdentity = { nodeId: identityOfCert(certPem).nodeId, keyPem: readFileSync(p(FILES.key), 'utf8'), certPem, caPem: readFileSync(p(FILES.ca), 'utf8') };
  if (existsSync(p(FILES.managerId))) id.managerId = readFileSync(p(FILES.managerId), 'utf8').trim();
  return id;
}

/**
 * Stores a renewed key and certificate so that a crash at any point leaves one matching pair: both are written
 * durably as `.new` files (the certificate last: its presence means the key is complete), then moved in, key first.
 * The next connection uses them; loadIdentity completes a move a crash interrupted.
 */
export function storeNodeCert(stateDir: string, keyPem: string, certPem: string): void {
  writeDurable(join(stateDir, `${FILES.key}.new`), keyPem);
  writeDurable(join(stateDir, `${FILES.cert}.new`), certPem);
  finishStoredCert(stateDir);
}

/** Replaces the trusted roots (ca.crt) durably: a bundle of PEM certificates. */
export function storeTrust(stateDir: string, caPem: string): void {
  writeDurable(join(stateDir, FILES.ca), caPem);
  fsyncDirOf(stateDir);
}

function finishStoredCert(stateDir: string): void {
  const p = (f: string) => join(stateDir, f);
  if (!existsSync(p(`${FILES.cert}.new`))) {
    rmSync(p(`${FILES.key}.new`), { force: true }); // written before a crash, its certificate never came
    return;
  }
  if (existsSync(p(`${FILES.key}.new`))) renameSync(p(`${FILES.key}.new`), p(FILES.key));
  renameSync(p(`${FILES.cert}.new`), p(FILES.cert));
  fsyncDirOf(stateDir);
}

function writeDurable(path: string, data: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function fsyncDirOf(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Pins the manager's node ID in stateDir (a state dir joined before pinning existed pins its first manager). */
export function pinManagerId(stateDir: string, managerId: string): void {
  writeSecretFile(join(stateDir, FILES.managerId), managerId + '\n');
}

export interface JoinOptions {
  manager: ManagerAddr;
  token: string;
  stateDir: string;
  hostname: string;
  labels: Record<string, string>;
  log: Logger;
}

export async function joinCluster(o: JoinOptions): Promise<NodeIdentity> {
  const parsed = parseToken(o.token);
  if (!parsed) throw new Error('invalid join token: expected RSTKN-1-<CA digest>-<secret>');
  // 1. The CA, fetched without trusting anything yet, then checked against the digest in the token.
  const caRes = await requestJson({ host: o.manager.host, port: o.manager.port, method: 'GET', path: '/runsecrets/ca', rejectUnauthorized: false });
  const caPem = typeof caRes.json.CACertificate === 'string' ? caRes.json.CACertificate : '';
  if (caRes.status !== 200 || !caPem) throw new Error(`cannot fetch the cluster CA: ${String(caRes.json.message ?? caRes.status)}`);
  let digest: string;
  try {
    digest = caDigestBase36(caPem);
  } catch {
    throw new Error('the manager sent a CA certificate that cannot be parsed');
  }
  if (digest !== parsed.caDigest) throw new Error("the manager's CA does not match the join token's fingerprint: refusing to join");
  // 2. From here on the manager is authenticated by the pinned CA; only now does the token leave this host.
  // Key and CSR tools are loaded only here, at the first start: they cost an idle agent 15 MiB (cert-identity.ts).
  const { createCsrPem, generateKeyPair, privateKeyPem } = await import('../../shared/pki.js');
  const keys = await generateKeyPair();
  const csr = await createCsrPem(keys, o.hostname);
  const res = await requestJson(
    { host: o.manager.host, port: o.manager.port, method: 'POST', path: '/runsecrets/join', ca: [caPem], rejectUnauthorized: true, checkServerIdentity: managerCertCheck(undefined) },
    { Token: o.token, CSR: csr, Hostname: o.hostname, Labels: o.labels },
  );
  if (res.status !== 200 || typeof res.json.Certificate !== 'string') throw new Error(`join refused: ${String(res.json.message ?? res.status)}`);
  const certPem = res.json.Certificate;
  if (!new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey)) throw new Error('the node certificate is not signed by the pinned CA');
  if (res.peerCn === '') throw new Error("the manager's certificate names no node ID: cannot pin it");
  // From now on only this manager (its node ID, under the pinned CA) is accepted (session.ts).
  const id: NodeIdentity = { nodeId: identityOfCert(certPem).nodeId, keyPem: await privateKeyPem(keys.privateKey), certPem, caPem, managerId: res.peerCn };
  mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
  chmodSync(o.stateDir, 0o700);
  writeSecretFile(join(o.stateDir, FILES.key), id.keyPem);
  writeSecretFile(join(o.stateDir, FILES.ca), caPem);
  writeSecretFile(join(o.stateDir, FILES.managerId), res.peerCn + '\n');
  writeSecretFile(join(o.stateDir, FILES.cert), certPem); // last: its presence means the join completed
  const pending = res.json.Membership === 'pending';
  o.log.info({ node: id.nodeId, manager: id.managerId, stateDir: o.stateDir }, pending ? 'joined the cluster, pending approval: a manager must run "runsecrets node accept"' : 'joined the cluster');
  return id;
}

/**
 * Joins through the first manager of the list that answers (the others in turn when one cannot be reached or
 * refuses); that manager becomes the list's current one. Every failure is logged; the last one is thrown.
 */
export async function joinAny(o: Omit<JoinOptions, 'manager'> & { managers: ManagerList }): Promise<NodeIdentity> {
  let last: unknown = null;
  for (const m of o.managers.all) {
    try {
      const id = await joinCluster({ ...o, manager: m.addr });
      o.managers.prefer(m.addr);
      return id;
    } catch (err) {
      last = err;
      if (o.managers.size > 1) o.log.warn({ manager: formatManagerAddr(m.addr), err: errorMessage(err) }, 'join through this manager failed: trying the next');
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}
