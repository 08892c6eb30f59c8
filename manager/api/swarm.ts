// Swarm-level routes, shaped like Docker's so that `docker swarm join-token|unlock|unlock-key|update` work too:
// GET /swarm (the whole Spec, join tokens), POST /swarm/update (the settings of ./swarm-spec.ts and rotations,
// version-checked), GET /swarm/unlockkey, POST /swarm/unlock; /swarm/init|join|leave answer as a node already in a
// swarm does (503, Docker's texts: this manager is its swarm; `runsecrets manager` commands make and leave one); plus ours: POST /runsecrets/certs/admin signs an admin client certificate from a CSR (30 days
// by default) and records it; GET lists them; POST /runsecrets/certs/admin/SERIAL/revoke revokes one at once;
// /runsecrets/join-approval reads and sets join approval.
import { ApiError, readJson, rpcError, sendEmpty, sendJson } from './http.js';
import { decodeObject, decodeString, field } from './decode.js';
import type { Router } from './router.js';
import { isJoinApproval, type OpenCluster } from '../cluster/state.js';
import { X509Certificate } from 'node:crypto';
import { ClusterCA, CsrError } from '../pki/ca.js';
import { ADMIN_CERT_DEFAULT_MS, ADMIN_CERT_MAX_MS, ADMIN_CERT_MIN_MS, type AdminCertRegistry } from '../pki/admin-certs.js';
import { newId } from '../../shared/ids.js';
import { swarmObject } from './system.js';
import { changedSettings, settingsFromSpec, signingCaFromSpec } from './swarm-spec.js';
import { settingsOf } from '../cluster/settings.js';

const SMALL_BODY = 64 * 1024;

export interface SwarmControl {
  cluster(): OpenCluster;
  adminCerts(): AdminCertRegistry;
  revoke(serial: string): void;
  isRevoked(serial: string): boolean;
  locked(): boolean;
  unlock(key: string): Promise<void>;
  /** Called after settings were applied: the dispatcher's heartbeat, the orchestrator's history limit. */
  settingsChanged(): void;
  /** The swarm's TLSInfo (the new root's issuer during a rotation). */
  tlsInfo(): { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string };
  /** Starts a root CA rotation (ForceRotate changed, or a root given). */
  rotateRoot(given?: { ca: ClusterCA; keyPem: string }): Promise<void>;
}

const ALREADY_IN_SWARM = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';

function boolParam(q: URLSearchParams, name: string): boolean {
  const v = (q.get(name) ?? '').toLowerCase();
  if (v === '' || v === '0' || v === 'false' || v === 'no') return false;
  if (v === '1' || v === 'true' || v === 'yes') return true;
  throw new ApiError(400, `invalid value for ${name}: ${q.get(name) ?? ''}`);
}

export function registerSwarmRoutes(router: Router, ctl: SwarmControl): void {
  router.add('GET', '/swarm', (ctx) => {
    const c = ctl.cluster();
    sendJson(ctx.res, 200, {
      ...swarmObject(c.config, ctl.tlsInfo()),
      JoinTokens: { Worker: c.joinToken('worker'), Manager: c.joinToken('manager') },
    });
  });

  router.add('POST', '/swarm/update', async (ctx) => {
    const rawVersion = ctx.query.get('version') ?? '';
    if (!/^\d+$/.test(rawVersion)) throw new ApiError(400, 'invalid swarm version');
    const rotateWorker = boolParam(ctx.query, 'rotateWorkerToken');
    const rotateManager = boolParam(ctx.query, 'rotateManagerToken');
    const rotateUnlock = boolParam(ctx.query, 'rotateManagerUnlockKey');
    const body = await readJson(ctx.req, SMALL_BODY);
    const c = ctl.cluster();
    if (Number(rawVersion) !== c.config.version) throw rpcError('Unknown', 'update out of sequence');
    const before = settingsOf(c.config);
    // No spec (our CLI's rotations send none): settings untouched. A spec is whole, as moby reads it.
    const noSpec = body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0);
    const next = noSpec ? before : settingsFromSpec(body, before); // throws, naming the field, before any change
    if (rotateUnlock && !next.autolock) throw new ApiError(400, 'no unlock key is set: autolock is not turned on');
    // A given root (checked before anything changes); the current root given again changes nothing.
    const signing = noSpec ? null : signingCaFromSpec(body);
    let given: { ca: ClusterCA; keyPem: string } | null = null;
    if (signing && signing.certPem.trim() !== c.ca.certPem.trim()) {
      try {
        given = await ClusterCA.given(signing.certPem, signing.keyPem, c.config.clusterId);
      } catch (err) {
        if (err instanceof CsrError) throw new ApiError(400, err.message);
        throw err;
      }
    }
    const changed = changedSettings(before, next);
    if (changed.length > 0) c.applySettings(next);
    // After the setting is durable: a crash before the new root exists leaves ForceRotate set and no rotation,
    // which a new ForceRotate starts again.
    if (given) await ctl.rotateRoot(given);
    else if (changed.includes('forceRotate')) await ctl.rotateRoot();
    if (rotateWorker) c.rotateJoinToken('worker');
    if (rotateManager) c.rotateJoinToken('manager');
    if (rotateUnlock && before.autolock) c.rotateUnlockKey(); // turned on just now: the key is new already
    if (changed.length > 0) ctl.settingsChanged();
    ctx.log.info({ changed, rotateWorker, rotateManager, rotateUnlock, version: c.config.version }, 'swarm updated');
    sendEmpty(ctx.res, 200);
  });

  for (const path of ['/swarm/init', '/swarm/join']) {
    router.add('POST', path, () => {
      throw new ApiError(503, ALREADY_IN_SWARM);
    });
  }
  router.add('POST', '/swarm/leave', () => {
    // A manager cannot leave its own swarm: `runsecrets manager` state is the swarm (Docker's last-manager text).
    throw new ApiError(503, 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. runsecrets: stop the manager and remove its state dir instead.');
  });

  router.add('GET', '/swarm/unlockkey', (ctx) => {
    // Like moby: an empty key (not an error) without autolock; the CLI says "no unlock key is set".
    sendJson(ctx.res, 200, { UnlockKey: ctl.cluster().unlockKey() ?? '' });
  });

  router.add(
    'POST',
    '/swarm/unlock',
    async (ctx) => {
      const body = decodeObject(await readJson(ctx.req, SMALL_BODY), 'swarm.UnlockRequest') ?? {};
      const key = decodeString(field(body, 'UnlockKey'), 'UnlockRequest.UnlockKey') ?? '';
      if (!ctl.locked()) throw new ApiError(409, 'swarm is not locked'); // moby: notLockedError is a Conflict
      await ctl.unlock(key);
      sendEmpty(ctx.res, 200);
    },
    { whileLocked: true },
  );

  // Ours (beyond Docker): join approval, `manager update --join-approval manual|auto`.
  router.add('GET', '/runsecrets/join-approval', (ctx) => {
    sendJson(ctx.res, 200, { Mode: ctl.cluster().config.joinApproval ?? 'auto' });
  });
  router.add('POST', '/runsecrets/join-approval', async (ctx) => {
    const body = decodeObject(await readJson(ctx.req, SMALL_BODY), 'JoinApprovalRequest') ?? {};
    const mode = decodeString(field(body, 'Mode'), 'JoinApprovalRequest.Mode') ?? '';
    if (!isJoinApproval(mode)) throw new ApiError(400, `invalid join approval "${mode}": expected manual or auto`);
    ctl.cluster().setJoinApproval(mode);
    ctx.log.info({ joinApproval: mode }, 'join approval set');
    sendJson(ctx.res, 200, { Mode: mode });
  });

  // GET /nodes/{id} (the manager's own node among the others) lives in services.ts with the node routes.

  router.add('POST', '/runsecrets/certs/admin', async (ctx) => {
    const body = decodeObject(await readJson(ctx.req, SMALL_BODY), 'AdminCertRequest') ?? {};
    const csr = decodeString(field(body, 'CSR'), 'AdminCertRequest.CSR') ?? '';
    if (csr === '') throw new ApiError(400, 'CSR must be provided (a PEM PKCS#10 request)');
    const validityMs = expiryMs(field(body, 'Expiry'));
    const c = ctl.cluster();
    const nodeId = newId();
    let cert: string;
    try {
      cert = await c.ca.signCsr(csr, { role: 'admin', nodeId, validityMs });
    } catch (err) {
      if (err instanceof CsrError) throw new ApiError(400, err.message);
      throw err;
    }
    const x = new X509Certificate(cert);
    const entry = {
      Serial: x.serialNumber.toUpperCase(),
      ID: nodeId,
      Subject: x.subject.replace(/\n/g, ', '),
      NotBefore: new Date(x.validFrom).toISOString(),
      NotAfter: new Date(x.validTo).toISOString(),
      IssuedAt: new Date().toISOString(),
    };
    ctl.adminCerts().record(entry); // before it is handed out, so that it can always be revoked
    ctx.log.info({ adminId: nodeId, serial: entry.Serial, notAfter: entry.NotAfter }, 'admin certificate issued');
    sendJson(ctx.res, 201, { ID: nodeId, Serial: entry.Serial, NotAfter: entry.NotAfter, Certificate: cert, CACertificate: c.ca.certPem });
  });

  router.add('GET', '/runsecrets/certs/admin', (ctx) => {
    sendJson(
      ctx.res,
      200,
      ctl.adminCerts().list().map((e) => ({ ...e, Revoked: ctl.isRevoked(e.Serial) })),
    );
  });

  router.add('POST', '/runsecrets/certs/admin/:serial/revoke', (ctx) => {
    const serial = (ctx.params.serial ?? '').trim();
    const e = /^[0-9a-fA-F]{1,64}$/.test(serial) ? ctl.adminCerts().find(serial) : undefined;
    if (!e) throw new ApiError(404, `no admin certificate with serial ${serial.slice(0, 80)} was issued by this manager ("runsecrets manager cert ls" lists them)`);
    ctl.revoke(e.Serial);
    ctx.log.info({ adminId: e.ID, serial: e.Serial }, 'admin certificate revoked');
    sendJson(ctx.res, 200, { Serial: e.Serial, Revoked: true });
  });
}

/** Expiry in ns (a Go duration, as Docker's CAConfig.NodeCertExpiry); absent: 30 days. */
function expiryMs(v: unknown): number {
  if (v === undefined || v === null) return ADMIN_CERT_DEFAULT_MS;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ApiError(400, 'AdminCertRequest.Expiry must be a duration in nanoseconds');
  const ms = Math.floor(v / 1e6);
  if (ms < ADMIN_CERT_MIN_MS || ms > ADMIN_CERT_MAX_MS) throw new ApiError(400, 'admin certificate expiry must be between 1 minute and 365 days');
  return ms;
}
