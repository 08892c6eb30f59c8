// Swarm-level routes, shaped like Docker's so that `docker swarm join-token|unlock|unlock-key` work too:
// GET /swarm (join tokens), POST /swarm/update (rotations, version-checked), GET /swarm/unlockkey,
// POST /swarm/unlock; plus POST /runsecrets/certs/admin, which signs an admin client certificate from a CSR.
import { ApiError, readJson, rpcError, sendEmpty, sendJson } from './http.js';
import { decodeObject, decodeString, field } from './decode.js';
import type { Router } from './router.js';
import type { OpenCluster } from '../cluster/state.js';
import { CsrError } from '../pki/ca.js';
import { newId } from '../../shared/ids.js';
import { swarmObject } from './system.js';

const SMALL_BODY = 64 * 1024;

export interface SwarmControl {
  cluster(): OpenCluster;
  locked(): boolean;
  unlock(key: string): Promise<void>;
}

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
      ...swarmObject(c.config, c.ca.certPem),
      JoinTokens: { Worker: c.joinToken('worker'), Manager: c.joinToken('manager') },
    });
  });

  router.add('POST', '/swarm/update', async (ctx) => {
    const rawVersion = ctx.query.get('version') ?? '';
    if (!/^\d+$/.test(rawVersion)) throw new ApiError(400, 'invalid swarm version');
    const rotateWorker = boolParam(ctx.query, 'rotateWorkerToken');
    const rotateManager = boolParam(ctx.query, 'rotateManagerToken');
    const rotateUnlock = boolParam(ctx.query, 'rotateManagerUnlockKey');
    await readJson(ctx.req, SMALL_BODY); // the spec: runsecrets keeps its settings fixed, so only rotations apply
    const c = ctl.cluster();
    if (Number(rawVersion) !== c.config.version) throw rpcError('Unknown', 'update out of sequence');
    if (rotateUnlock && !c.config.autolock) throw new ApiError(400, 'no unlock key is set: the swarm was not initialized with --autolock');
    if (rotateWorker) c.rotateJoinToken('worker');
    if (rotateManager) c.rotateJoinToken('manager');
    if (rotateUnlock) c.rotateUnlockKey();
    ctx.log.info({ rotateWorker, rotateManager, rotateUnlock, version: c.config.version }, 'swarm updated');
    sendEmpty(ctx.res, 200);
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

  // GET /nodes/{id} (the manager's own node among the others) lives in services.ts with the node routes.

  router.add('POST', '/runsecrets/certs/admin', async (ctx) => {
    const body = decodeObject(await readJson(ctx.req, SMALL_BODY), 'AdminCertRequest') ?? {};
    const csr = decodeString(field(body, 'CSR'), 'AdminCertRequest.CSR') ?? '';
    if (csr === '') throw new ApiError(400, 'CSR must be provided (a PEM PKCS#10 request)');
    const c = ctl.cluster();
    const nodeId = newId();
    let cert: string;
    try {
      cert = await c.ca.signCsr(csr, { role: 'admin', nodeId });
    } catch (err) {
      if (err instanceof CsrError) throw new ApiError(400, err.message);
      throw err;
    }
    ctx.log.info({ adminId: nodeId }, 'admin certificate issued');
    sendJson(ctx.res, 201, { ID: nodeId, Certificate: cert, CACertificate: c.ca.certPem });
  });
}
