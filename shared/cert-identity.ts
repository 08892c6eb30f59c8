// A peer's identity read from its certificate with node:crypto alone: role in OU, node ID in CN, cluster ID in O.
// Kept apart from pki.ts so that an agent that only reads certificates (every start) does not load @peculiar/x509
// (about 200 modules and 15 MiB of RSS); pki.ts, which makes keys, CSRs and certificates, re-exports it.
import { X509Certificate, createHash } from 'node:crypto';

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
