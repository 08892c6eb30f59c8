// PKI helpers both sides use: ECDSA P-256 keys, CSRs, PEM, and reading a peer's identity from its certificate.
// The certificate is the only source of a peer's identity: role in OU, node ID in CN, cluster ID in O.
import 'reflect-metadata';
import { webcrypto, X509Certificate, createHash } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;

export type Role = 'manager' | 'worker' | 'admin';
export const ROLE_OU: Record<Role, string> = {
  manager: 'swarm-manager',
  worker: 'swarm-worker',
  admin: 'runsecrets-admin',
};

export function roleFromOu(ou: string | undefined): Role | null {
  for (const [role, name] of Object.entries(ROLE_OU)) if (name === ou) return role as Role;
  return null;
}

export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** PKCS#8 PEM ("PRIVATE KEY"), which node:tls reads directly. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n';
}

export async function importPrivateKeyPem(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  if (!der) throw new Error('no PEM block found in the private key');
  return webcrypto.subtle.importKey('pkcs8', der, EC_ALG, true, ['sign']);
}

/** A CSR for a key pair; the signer decides the final subject, so the name here is only a hint. */
export async function createCsrPem(keys: CryptoKeyPair, commonName = 'runsecrets'): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${commonName}`,
    keys,
    signingAlgorithm: SIGN_ALG,
  });
  return csr.toString('pem') + '\n';
}

/** SHA-256 of the certificate's DER, as lower-case hex. */
export function certFingerprintHex(certPem: string): string {
  return createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
}

/** Docker-style CA digest for join tokens: SHA-256 of the DER in base 36, left-padded to 50 characters. */
export function caDigestBase36(caCertPem: string): string {
  return BigInt('0x' + certFingerprintHex(caCertPem)).toString(36).padStart(50, '0');
}

export interface PeerIdentity {
  role: Role | null;
  nodeId: string;
  clusterId: string;
  serial: string; // upper-case hex, as node:tls reports it
}

/** Parses "CN=..\nOU=..\nO=.." as node:crypto prints a subject. */
export function parseSubject(subject: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of subject.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export function identityOfCert(certPem: string | Buffer): PeerIdentity {
  const cert = new X509Certificate(certPem);
  const s = parseSubject(cert.subject);
  return { role: roleFromOu(s.OU), nodeId: s.CN ?? '', clusterId: s.O ?? '', serial: cert.serialNumber.toUpperCase() };
}

export { x509 };

/** Docker's TLSInfo for a root certificate: the PEM, and its subject and public key as base64 DER. */
export function tlsInfoOf(certPem: string): { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string } {
  const c = new x509.X509Certificate(certPem);
  return {
    TrustRoot: certPem,
    CertIssuerSubject: Buffer.from(c.subjectName.toArrayBuffer()).toString('base64'),
    CertIssuerPublicKey: Buffer.from(c.publicKey.rawData).toString('base64'),
  };
}
