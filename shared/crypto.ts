// Envelope encryption helpers: AES-256-GCM with a random 96-bit nonce, and key derivation by HKDF-SHA256.
// Sealed layout: version byte 1 | 12-byte nonce | ciphertext | 16-byte tag. The AAD binds a sealed blob to its
// place (for example kind and ID), so that a blob copied to another row does not decrypt.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

const VERSION = 1;
const NONCE = 12;
const TAG = 16;
export const KEY_BYTES = 32;

export class DecryptError extends Error {
  constructor(what: string) {
    super(`cannot decrypt ${what}: wrong key or damaged data`);
    this.name = 'DecryptError';
  }
}

export function randomKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

// Nonces and IDs are drawn from a pool filled by one getrandom call per 4 KiB rather than one call each (a
// measurable cost per write); every byte is handed out once, as a copy.
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** n fresh random bytes (n <= 4096) from the CSPRNG, in a Buffer of their own. */
export function randomPooled(n: number): Buffer {
  if (n > POOL_SIZE) return randomBytes(n);
  if (poolOffset + n > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = Buffer.from(pool.subarray(poolOffset, poolOffset + n));
  pool.fill(0, poolOffset, poolOffset + n); // handed out: not kept
  poolOffset += n;
  return out;
}

export function seal(key: Buffer, plaintext: Buffer, aad?: Buffer): Buffer {
  const nonce = randomPooled(NONCE);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  if (aad) c.setAAD(aad);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([Buffer.from([VERSION]), nonce, body, c.getAuthTag()]);
}

export function open(key: Buffer, sealed: Buffer, aad?: Buffer, what = 'data'): Buffer {
  if (sealed.length < 1 + NONCE + TAG || sealed[0] !== VERSION) throw new DecryptError(what);
  const nonce = sealed.subarray(1, 1 + NONCE);
  const tag = sealed.subarray(sealed.length - TAG);
  const body = sealed.subarray(1 + NONCE, sealed.length - TAG);
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    if (aad) d.setAAD(aad);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(body), d.final()]);
  } catch {
    throw new DecryptError(what);
  }
}

/** A subkey for one purpose, so that one key never serves two jobs. */
export function deriveKey(ikm: Buffer, purpose: string, salt: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, `runsecrets ${purpose}`, KEY_BYTES));
}

export function hmac(key: Buffer, text: string | Buffer): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
