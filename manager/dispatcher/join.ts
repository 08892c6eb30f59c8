// Joining: GET /runsecrets/ca gives the CA certificate (public; the agent checks it against its token's digest
// before trusting it), POST /runsecrets/join takes {Token, CSR, Hostname, Labels} and answers the node certificate
// (CN = new node ID, OU swarm-worker) after registering the node: Hostname and Labels are the node's own account of
// itself, stored as Description (engine labels), never as the manager-set Spec.Labels. Under manual join approval
// the node is stored pending and gets nothing until accepted. The manager token is refused (one manager only).
// Failed attempts are throttled per source address (join-throttle.ts). These two are the only routes a client
// without a cluster certificate reaches (listeners.ts).
import type { Router } from '../api/router.js';
import { ApiError, readJson, sendJson } from '../api/http.js';
import { decodeObject, decodeString, decodeStringMap, field } from '../api/decode.js';
import type { OpenCluster } from '../cluster/state.js';
import { nodeCertValidityMs } from '../cluster/settings.js';
import type { Store } from '../store/types.js';
import { CsrError } from '../pki/ca.js';
import { identityOfCert } from '../../shared/pki.js';
import { newId } from '../../shared/ids.js';
import { registerNode } from '../orchestrator/nodes.js';
import { LogLimiter } from '../../shared/log-limit.js';
import { JoinFailureThrottle } from './join-throttle.js';

export const JOIN_PATHS: ReadonlySet<string> = new Set(['GET /runsecrets/ca', 'POST /runsecrets/join']);
const SMALL_BODY = 64 * 1024;

export interface JoinControl {
  cluster(): OpenCluster;
  store(): Store;
}

export function registerJoinRoutes(router: Router, ctl: JoinControl): void {
  const throttle = new JoinFailureThrottle();
  const logLimit = new LogLimiter();
  router.add('GET', '/runsecrets/ca', (ctx) => sendJson(ctx.res, 200, { CACertificate: ctl.cluster().ca.certPem }), { anyRole: true });
  router.add(
    'POST',
    '/runsecrets/join',
    async (ctx) => {
      const remote = ctx.req.socket.remoteAddress ?? '';
      const body = decodeObject(await readJson(ctx.req, SMALL_BODY), 'JoinRequest') ?? {};
      const token = decodeString(field(body, 'Token'), 'JoinRequest.Token') ?? '';
      const csr = decodeString(field(body, 'CSR'), 'JoinRequest.CSR') ?? '';
      const hostname = decodeString(field(body, 'Hostname'), 'JoinRequest.Hostname') ?? '';
      // What the joiner says about itself: kept as its engine labels (untrusted), never as node labels.
      const engineLabels = decodeStringMap(field(body, 'Labels'), 'JoinRequest.Labels') ?? {};
      const c = ctl.cluster();
      const role = c.verifyJoinToken(token);
      if (!role) {
        const wait = throttle.fail(remote);
        if (wait > 0) {
          ctx.res.setHeader('Retry-After', String(wait));
          throw new ApiError(429, `too many failed join attempts from ${remote}: try again in ${wait} s`);
        }
        const ok = logLimit.allow('bad-token');
        if (ok) ctx.log.warn({ remote, ...(ok.suppressed ? { suppressed: ok.suppressed } : {}) }, 'join refused: invalid token');
        throw new ApiError(401, 'invalid join token');
      }
      if (role === 'manager') {
        // A manager certificate reads both join tokens and the unlock key; runsecrets has one manager, so nothing
        // may obtain one by joining (issue 9, finding 6).
        ctx.log.warn({ remote }, 'join refused: manager token');
        throw new ApiError(
          403,
          'joining as a manager is not supported yet: runsecrets runs a single manager; join this host as a worker with the worker token ("runsecrets manager join-token worker")',
        );
      }
      if (csr === '') throw new ApiError(400, 'CSR must be provided (a PEM PKCS#10 request)');
      if (hostname === '' || hostname.length > 253) throw new ApiError(400, 'Hostname must be 1 to 253 characters');
      const nodeId = newId();
      let cert: string;
      try {
        cert = await c.ca.signCsr(csr, { role, nodeId, validityMs: nodeCertValidityMs(c.config) });
      } catch (err) {
        if (err instanceof CsrError) throw new ApiError(400, err.message);
        throw err;
      }
      const serial = identityOfCert(cert).serial;
      const membership = c.config.joinApproval === 'manual' ? 'pending' : 'accepted';
      await registerNode(ctl.store(), { id: nodeId, hostname, engineLabels, membership, certSerial: serial, addr: remote });
      ctx.log.info({ node: nodeId, hostname, role, membership }, membership === 'pending' ? 'node joined, pending approval ("runsecrets node accept")' : 'node joined');
      sendJson(ctx.res, 200, { NodeID: nodeId, Certificate: cert, CACertificate: c.ca.certPem, Membership: membership });
    },
    { anyRole: true },
  );
}
