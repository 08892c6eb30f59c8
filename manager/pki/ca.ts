// The cluster CA: a self-signed ECDSA P-256 root that signs the manager's server certificate, node certificates
// (from CSRs) and admin client certificates. Subjects carry identity: CN node ID, OU role, O cluster ID.
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { x509, SIGN_ALG, ROLE_OU, generateKeyPair, privateKeyPem, importPrivateKeyPem, type Role } from '../../shared/pki.js';

const CA_YEARS = 20;
// The manager's own certificate (not renewed yet; a root rotation issues a new one). Node certificates give their
// own validity (CAConfig.NodeCertExpiry) and are renewed by their agents.
const LEAF_DAYS = 360;
const SKEW_MS = 5 * 60 * 1000; // tolerate clocks a little behind ours

export class CsrError extends Error {
  override name = 'CsrError';
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 1) & 0x7f) | 0x01; // positive and without a leading zero byte, so every tool prints it alike
  return b.toString('hex');
}

export interface LeafOptions {
  role: Role;
  nodeId: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  days?: number;
  /** Validity in ms; wins over days. */
  validityMs?: number;
}

export class ClusterCA {
  private constructor(
    readonly certPem: string,
    private readonly cert: x509.X509Certificate,
    private readonly key: CryptoKey,
    readonly clusterId: string,
  ) {}

  static async create(clusterId: string): Promise<{ ca: ClusterCA; keyPem: string }> {
    const keys = await generateKeyPair();
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=runsecrets-ca, O=${clusterId}`,
      notBefore: new Date(now - SKEW_MS),
      notAfter: new Date(now + CA_YEARS * 365 * 86400_000),
      signingAlgorithm: SIGN_ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const certPem = cert.toString('pem') + '\n';
    return { ca: new ClusterCA(certPem, cert, keys.privateKey, clusterId), keyPem: await privateKeyPem(keys.privateKey) };
  }

  /** clusterId: what issued certificates carry in O (default: the root's own O, as `create` makes it). */
  static async load(certPem: string, keyPem: string, clusterId?: string): Promise<ClusterCA> {
    const cert = new x509.X509Certificate(certPem);
    const o = clusterId ?? cert.subjectName.getField('O')[0] ?? '';
    return new ClusterCA(certPem, cert, await importPrivateKeyPem(keyPem), o);
  }

  /**
   * A root an operator gives (`docker swarm ca --rotate --ca-cert F --ca-key K`): a CA certificate valid for at least
   * another year (swarmkit's check and text), with its ECDSA P-256 key (the only kind runsecrets signs with).
   */
  static async given(certPem: string, keyPem: string, clusterId: string): Promise<{ ca: ClusterCA; keyPem: string }> {
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(certPem);
    } catch {
      throw new CsrError('invalid CA certificate: not a PEM certificate');
    }
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    if (!bc?.ca) throw new CsrError('invalid CA certificate: it is not a CA (basic constraints)');
    if (cert.notAfter.getTime() - Date.now() < 365 * 86400_000) throw new CsrError('CA certificate expires too soon');
    let priv: JsonWebKey;
    let pkcs8: string;
    try {
      const k = createPrivateKey(keyPem); // PKCS#8 or SEC1 ("EC PRIVATE KEY", what openssl ecparam writes)
      priv = k.export({ format: 'jwk' });
      pkcs8 = k.export({ type: 'pkcs8', format: 'pem' }).toString();
    } catch {
      throw new CsrError('invalid CA key: not a PEM private key');
    }
    if (priv.kty !== 'EC' || priv.crv !== 'P-256') throw new CsrError('invalid CA key: runsecrets signs with ECDSA P-256 keys');
    const pub = new X509Certificate(certPem).publicKey.export({ format: 'jwk' });
    if (pub.x !== priv.x || pub.y !== priv.y) throw new CsrError('the CA key does not match the CA certificate');
    return { ca: new ClusterCA(cert.toString('pem') + '\n', cert, await importPrivateKeyPem(pkcs8), clusterId), keyPem: pkcs8 };
  }

  /** Signs a leaf certificate for a public key; the subject is ours to decide, never the requester's. */
  async issue(publicKey: CryptoKey | x509.PublicKey, opts: LeafOptions): Promise<string> {
    const now = Date.now();
    const validity = opts.validityMs ?? (opts.days ?? LEAF_DAYS) * 86400_000;
    // Back-dated at most a tenth of the validity: agents renew at 50-80 % of it from NotBefore, and a short-lived
    // certificate back-dated by whole minutes would be due at once.
    const skew = Math.min(SKEW_MS, Math.floor(validity / 10));
    const san: { type: 'dns' | 'ip'; value: string }[] = [
      ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ];
    const usages = opts.role === 'admin' ? [x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension(usages),
      await x509.AuthorityKeyIdentifierExtension.create(this.cert),
    ];
    if (san.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(san));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${opts.nodeId}, OU=${ROLE_OU[opts.role]}, O=${this.clusterId}`,
      issuer: this.cert.subject,
      notBefore: new Date(now - skew),
      notAfter: new Date(now + validity),
      signingAlgorithm: SIGN_ALG,
      publicKey,
      signingKey: this.key,
      extensions,
    });
    return cert.toString('pem') + '\n';
  }

  /** Signs a CSR after checking its self-signature; only the CSR's public key is used. */
  async signCsr(csrPem: string, opts: LeafOptions): Promise<string> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch {
      throw new CsrError('invalid certificate signing request: not a PEM or DER PKCS#10 request');
    }
    // verify() throws (instead of answering false) when the signature bytes do not even parse: both are the
    // client's fault (found by test/reliability/api-fuzz.test.ts: a flipped byte in the CSR gave a 500).
    const verified = await csr.verify().catch(() => false);
    if (!verified) throw new CsrError('invalid certificate signing request: its signature does not verify');
    let alg: EcKeyAlgorithm;
    try {
      alg = csr.publicKey.algorithm as EcKeyAlgorithm;
    } catch {
      throw new CsrError('invalid certificate signing request: its public key cannot be read');
    }
    if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') {
      throw new CsrError('invalid certificate signing request: the key must be ECDSA P-256');
    }
    return this.issue(csr.publicKey, opts);
  }
}

/** A fresh key pair and a certificate for it, for identities the manager makes itself (its own, admins'). */
export async function issueWithNewKey(ca: ClusterCA, opts: LeafOptions): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  return { certPem: await ca.issue(keys.publicKey, opts), keyPem: await privateKeyPem(keys.privateKey) };
}

export { webcrypto };
