// The join token's text form `RSTKN-1-<CA digest>-<secret>` (Docker's SWMTKN layout), shared because both sides read
// it: the manager to verify a presented token, a joining agent to pin the CA by the digest before trusting it.
export const TOKEN_PREFIX = 'RSTKN-1-';
const TOKEN_PATTERN = /^RSTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/;

export interface ParsedToken {
  caDigest: string;
  secret: string;
}

export function formatToken(caDigest: string, secret: string): string {
  return `${TOKEN_PREFIX}${caDigest}-${secret}`;
}

export function parseToken(token: string): ParsedToken | null {
  const m = TOKEN_PATTERN.exec(token.trim());
  return m ? { caDigest: m[1] ?? '', secret: m[2] ?? '' } : null;
}
