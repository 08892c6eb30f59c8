// PKI helpers both sides use: ECDSA P-256 keys, CSRs, PEM. Reading a peer's identity from its certificate lives in
// cert-identity.ts (node:crypto only) and is re-exported here.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export * from './cert-identity.js';

export const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;

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
