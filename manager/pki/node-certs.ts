// Node certificates after the join: renewals over the agent's session, each node's TLS state as Docker shows it
// (Node.Description.TLSInfo), and the root CA rotation's progress (Docker's `swarm ca --rotate`).
// - A renewal is issued for the node the session is authenticated as (its certificate's CN and role), never for
//   what the CSR names: a CSR naming another node, another role or another cluster is refused, as is any role but
//   worker (the manager's own certificate is its own business). Only the CSR's public key is used.
// - During a rotation, certificates come from the new root and nodes still on the old one are told to renew at once
//   (in batches, as swarmkit's reconciler does); when every node holds one from the new root, the rotation
//   completes: the old root is dropped (the TLS listener trusts the new one only) and nodes are sent the new roots.
import { X509Certificate, createHash } from 'node:crypto';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { ROLE_OU, identityOfCert, tlsInfoOf, x509, type Role } from '../../shared/pki.js';
import type { CertManagerMessage } from '../../shared/protocol.js';
import type { OpenCluster } from '../cluster/state.js';
import { nodeCertValidityMs } from '../cluster/settings.js';
import type { Store } from '../store/types.js';
import type { NodeRecord, NodeTlsInfo } from '../orchestrator/types.js';
import type { ClusterCA } from './ca.js';
import { CsrError } from './ca.js';

/** swarmkit's IssuanceStateRotateMaxBatchSize: at most this many nodes are told to renew at once. */
export const ROTATE_BATCH = 30;

export interface NodeCertsDeps {
  cluster(): OpenCluster;
  store: Store;
  log: Logger;
  /** Sends to the node's session if it has one; false otherwise. */
  send(nodeId: string, msg: CertManagerMessage): boolean;
  /** Nodes with a session now. */
  connected(): string[];
  /** The rotation completed: the TLS listener serves the new certificate and trusts the new root only. */
  rotated(): void;
}

/** The issuer half of Docker's TLSInfo for a CA: its subject and public key (base64 DER). */
function issuerOf(ca: ClusterCA): { CertIssuerSubject: string; CertIssuerPublicKey: string } {
  const { CertIssuerSubject, CertIssuerPublicKey } = tlsInfoOf(ca.certPem);
  return { CertIssuerSubject, CertIssuerPublicKey };
}

function fingerprint(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

export class CertRefused extends Error {
  override name = 'CertRefused';
}

export class NodeCerts {
  /** Nodes told to renew for the rotation and not yet moved (so that each is told once per rotation). */
  private readonly told = new Set<string>();
  private checking: Promise<void> | null = null;
  private again = false;

  constructor(private readonly d: NodeCertsDeps) {}

  /** Docker's GET /swarm TLSInfo: the trusted root, and the issuer of certificates now (the new root during a rotation). */
  swarmTlsInfo(): NodeTlsInfo {
    const c = this.d.cluster();
    return { TrustRoot: c.ca.certPem, ...issuerOf(c.signingCa) };
  }

  /** A certificate for the session's node from its CSR: answered as a message for the session. */
  async renew(nodeId: string, role: Role | null, csrPem: string): Promise<CertManagerMessage> {
    try {
      const c = this.d.cluster();
      if (role !== 'worker') throw new CertRefused(`only worker nodes renew their certificate over a session; this one is a ${role ?? 'unknown-role'}`);
      this.checkCsrSubject(csrPem, nodeId, c.config.clusterId);
      const node = await this.d.store.get('node', nodeId);
      if (!node) throw new CertRefused(`node ${nodeId} not found`);
      const ca = c.signingCa;
      const cert = await ca.signCsr(csrPem, { role: 'worker', nodeId, validityMs: nodeCertValidityMs(c.config) });
      const serial = identityOfCert(cert).serial;
      // Recorded before it is handed out: removing the node revokes it too.
      await this.updateNode(nodeId, (n) => ({ ...n, certSerials: [...n.certSerials, serial] }));
      this.d.log.info({ node: nodeId, serial, notAfter: new Date(new X509Certificate(cert).validTo).toISOString(), rotation: c.next !== null }, 'node certificate renewed');
      return { type: 'node-cert', cert, trust: c.trustBundle };
    } catch (err) {
      const reason = err instanceof CertRefused || err instanceof CsrError ? err.message : `cannot issue: ${errorMessage(err)}`;
      this.d.log.warn({ node: nodeId, reason }, 'node certificate renewal refused');
      return { type: 'node-cert-refused', reason };
    }
  }

  /** The CSR's subject may name nothing or exactly this node, role and cluster: anything else is an attempt at
   * another identity, refused (the certificate's subject is ours to decide anyway). */
  private checkCsrSubject(csrPem: string, nodeId: string, clusterId: string): void {
    let name: x509.Name;
    try {
      name = new x509.Pkcs10CertificateRequest(csrPem).subjectName;
    } catch {
      throw new CertRefused('invalid certificate signing request: not a PEM or DER PKCS#10 request');
    }
    const one = (f: string): string[] => name.getField(f);
    if (one('CN').some((v) => v !== nodeId)) throw new CertRefused(`the request names node ${JSON.stringify(one('CN')[0]?.slice(0, 64))}: a node renews only its own certificate (${nodeId})`);
    if (one('OU').some((v) => v !== ROLE_OU.worker)) throw new CertRefused(`the request asks for role ${JSON.stringify(one('OU')[0]?.slice(0, 64))}: a worker renews only as a worker`);
    if (one('O').some((v) => v !== clusterId)) throw new CertRefused('the request names another cluster');
  }

  /**
   * What the node holds (its certificate, the roots it trusts), reported after each connection and change: kept as
   * its TLSInfo. Answers what the node must do next, if anything: renew (a rotation it has not followed) or take
   * the current roots (a rotation that completed while it was away).
   */
  async reportState(nodeId: string, certPem: string, trust: string[]): Promise<CertManagerMessage | null> {
    const c = this.d.cluster();
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch {
      this.d.log.warn({ node: nodeId }, 'tls-state with a certificate that cannot be parsed: ignored');
      return null;
    }
    const id = identityOfCert(certPem);
    const node = await this.d.store.get('node', nodeId);
    // Only a certificate we issued to this very node counts: a node cannot claim another's, or an unknown one.
    if (!node || id.nodeId !== nodeId || !node.spec.certSerials.includes(id.serial)) {
      this.d.log.warn({ node: nodeId, serial: id.serial }, 'tls-state names a certificate not issued to this node: ignored');
      return null;
    }
    const roots = c.next ? [c.ca, c.next.ca] : [c.ca];
    const issuer = roots.find((r) => cert.verify(new X509Certificate(r.certPem).publicKey));
    const known = new Map(roots.map((r) => [fingerprint(r.certPem), r.certPem]));
    const trustRoot = trust.length > 0 ? (known.get(trust[0] ?? '') ?? '') : '';
    const info: NodeTlsInfo = issuer ? { TrustRoot: trustRoot, ...issuerOf(issuer) } : { TrustRoot: trustRoot, CertIssuerSubject: '', CertIssuerPublicKey: '' };
    const cur = node.spec.TLSInfo;
    if (!cur || cur.TrustRoot !== info.TrustRoot || cur.CertIssuerSubject !== info.CertIssuerSubject || cur.CertIssuerPublicKey !== info.CertIssuerPublicKey) {
      await this.updateNode(nodeId, (n) => ({ ...n, TLSInfo: info }));
    }
    if (c.next) {
      if (issuer !== c.next.ca) {
        this.told.add(nodeId);
        return { type: 'cert-renew' };
      }
      this.told.delete(nodeId);
      this.checkRotation();
      return null;
    }
    const current = fingerprint(c.ca.certPem);
    if (issuer === c.ca && (trust.length !== 1 || trust[0] !== current)) return { type: 'trust', trust: c.ca.certPem };
    if (issuer !== c.ca) return { type: 'cert-renew' }; // e.g. a node from before a rotation that was dropped by a restore
    return null;
  }

  /** ForceRotate changed: a new root; nodes are told to renew (in batches) and the rotation completes when all moved. */
  async startRotation(given?: { ca: ClusterCA; keyPem: string }): Promise<void> {
    await this.d.cluster().startRootRotation(given);
    this.told.clear();
    this.d.log.info('root CA rotation started: nodes renew under the new root');
    this.checkRotation();
  }

  /** Looks at every node once (coalesced): tells the next batch to renew, or completes the rotation. */
  checkRotation(): void {
    if (this.checking) {
      this.again = true; // what changed meanwhile is looked at once more
      return;
    }
    this.checking = (async () => {
      do {
        this.again = false;
        try {
          await this.runCheck();
        } catch (err) {
          this.d.log.error({ err: errorMessage(err) }, 'root rotation check failed');
        }
      } while (this.again);
      this.checking = null;
    })();
  }

  private async runCheck(): Promise<void> {
    const c = this.d.cluster();
    const next = c.next;
    if (!next) return;
    const want = issuerOf(next.ca);
    const nodes = await this.d.store.list('node');
    const behind = nodes.filter((n) => n.spec.TLSInfo?.CertIssuerPublicKey !== want.CertIssuerPublicKey || n.spec.TLSInfo.CertIssuerSubject !== want.CertIssuerSubject);
    if (c.next !== next) return; // replaced by a newer rotation meanwhile: its own check decides
    if (behind.length === 0) {
      c.completeRootRotation();
      this.told.clear();
      this.d.log.info({ nodes: nodes.length }, 'root CA rotation completed: the old root is no longer trusted');
      this.d.rotated();
      for (const id of this.d.connected()) this.d.send(id, { type: 'trust', trust: c.ca.certPem });
      return;
    }
    const online = new Set(this.d.connected());
    let room = ROTATE_BATCH - [...this.told].filter((id) => online.has(id)).length;
    for (const n of behind) {
      if (room <= 0) break;
      if (this.told.has(n.id) || !online.has(n.id)) continue;
      if (this.d.send(n.id, { type: 'cert-renew' })) {
        this.told.add(n.id);
        room--;
      }
    }
  }

  /** Applies a change to a node's record, retrying on concurrent writes. */
  private async updateNode(nodeId: string, change: (n: NodeRecord) => NodeRecord): Promise<void> {
    for (;;) {
      const cur = await this.d.store.get('node', nodeId);
      if (!cur) throw new CertRefused(`node ${nodeId} not found`);
      try {
        await this.d.store.update('node', nodeId, cur.version, change(cur.spec));
        return;
      } catch (err) {
        if ((err as Error).name !== 'SequenceConflictError') throw err;
      }
    }
  }
}
