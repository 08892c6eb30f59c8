// Join tokens `RSTKN-1-<CA digest>-<secret>` (Docker's SWMTKN layout). The CA digest lets a joining agent pin the
// CA before trusting it. Only a hash of each secret is kept at rest; the secret itself is recomputed on demand from
// a token key (held encrypted) and the role's generation, so rotating means bumping the generation.
import { createHash } from 'node:crypto';
import { hmac, constantTimeEqual } from '../../shared/crypto.js';
import { parseToken } from '../../shared/join-token.js';

export { formatToken, parseToken } from '../../shared/join-token.js';

export type TokenRole = 'worker' | 'manager';
export interface TokenState {
  generation: number;
  secretHash: string; // hex SHA-256 of the secret part
}

export function tokenSecret(tokenKey: Buffer, role: TokenRole, generation: number): string {
  const p = hmac(tokenKey, `join-token:${role}:${generation}`).subarray(0, 17);
  p[0] = (p[0] ?? 0) | 0x80;
  return BigInt('0x' + p.toString('hex')).toString(36).slice(1, 26);
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function tokenState(tokenKey: Buffer, role: TokenRole, generation: number): TokenState {
  return { generation, secretHash: hashSecret(tokenSecret(tokenKey, role, generation)) };
}

/** The role a presented token grants, or null. Compares hashes in constant time. */
export function verifyToken(
  token: string,
  caDigest: string,
  states: Record<TokenRole, TokenState>,
): TokenRole | null {
  const p = parseToken(token);
  if (!p || p.caDigest !== caDigest) return null;
  const h = Buffer.from(hashSecret(p.secret), 'hex');
  for (const role of ['worker', 'manager'] as const) {
    if (constantTimeEqual(h, Buffer.from(states[role].secretHash, 'hex'))) return role;
  }
  return null;
}
