// Docker's object IDs (swarmkit identity/randomid.go, reference §3.2): 17 random bytes with the high bit set,
// written in base 36, first digit dropped: always 25 characters of [0-9a-z], about 129 bits of entropy.
import { randomPooled } from './crypto.js';

export const ID_LENGTH = 25;
const ID_PATTERN = /^[0-9a-z]{25}$/;

export function newId(): string {
  const p = randomPooled(17);
  p[0] = (p[0] ?? 0) | 0x80; // fixes the length of the base-36 text
  return BigInt('0x' + p.toString('hex')).toString(36).slice(1, 26);
}

export function isId(s: string): boolean {
  return ID_PATTERN.test(s);
}
