// Joining: GET /runsecrets/ca gives the CA certificate (public; the agent checks it against its token's digest
// before trusting it), POST /runsecrets/join takes {Token, CSR, Hostname, Labels} and answers the node certificate
// (CN = new node ID, OU = the token's role) after registering the node. These two are the only routes a client
// without a cluster certificate reaches (listeners.ts).
import type { Router } from '../api/router.js';
import { ApiError, readJson, sendJson } from '../api/http.js';
import { decodeObject, decodeString, decodeStringMap, field } from '../api/decode.js';
import type { OpenCluster } from '../cluster/state.js';
import type { Store } from '../store/types.js';
import { CsrError } from '../pki/ca.js';
import { identityOfCert } from '../../shared/pki.js';
import { newId } from '../../shared/ids.js';
import { registerNode } from '../orchestrator/nodes.js';

export const JOIN_PATHS: ReadonlySet<string> = new Set(['GET /runsecrets/ca', 'POST /runsecrets/join']);
const SMALL_BODY = 64 * 1024;

export interface JoinControl {
  cluster(): OpenCluster;
  store(): Store;
}

export function registerJoinRoutes(router: Router, ctl: JoinControl): void {
  router.add('GET', '/runsecrets/ca', (ctx) => sendJson(ctx.res, 200, { CACertificate: ctl.cluster().ca.certPem }), { anyRole: true });
  router.add(
    'POST',
    '/runsecrets/join',
    async (ctx) => {
      const body = decodeObject(await readJson(ctx.req, SMALL_BODY), 'JoinRequest') ?? {};
      const token = decodeString(field(body, 'Token'), 'JoinRequest.Token') ?? '';
      const csr = decodeString(field(body, 'CSR'), 'JoinRequest.CSR') ?? '';
      const hostname = decodeString(field(body, 'Hostname'), 'JoinRequest.Hostname') ?? '';
      const labels = decodeStringMap(field(body, 'Labels'), 'JoinRequest.Labels') ?? {};
      const c = ctl.cluster();
      const role = c.verifyJoinToken(token);
      if (!role) {
        ctx.log.warn({ remote: ctx.req.socket.remoteAddress }, 'join refused: invalid token');
        throw new ApiError(401, 'invalid join token');
      }
      if (csr === '') throw new ApiError(400, 'CSR must be provided (a PEM PKCS#10 request)');
      if (hostname === '' || hostname.length > 253) throw new ApiError(400, 'Hostname must be 1 to 253 characters');
      const nodeId = newId();
      let cert: string;
      try {
        cert = await c.ca.signCsr(csr, { role, nodeId });
      } catch (err) {
        if (err instanceof CsrError) throw new ApiError(400, err.message);
        throw err;
      }
      const serial = identityOfCert(cert).serial;
      await registerNode(ctl.store(), { id: nodeId, hostname, labels, certSerial: serial, addr: ctx.req.socket.remoteAddress ?? '' });
      ctx.log.info({ node: nodeId, hostname, role }, 'node joined');
      sendJson(ctx.res, 200, { NodeID: nodeId, Certificate: cert, CACertificate: c.ca.certPem });
    },
    { anyRole: true },
  );
}
