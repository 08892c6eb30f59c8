// What the store holds, in 32 bytes: the XOR of a keyed HMAC of every row's (kind, ID, version). Each commit
// updates it (a row in: XOR its HMAC; a row out: XOR it again) and writes it, sealed with the store's index, in the
// same transaction. Rows are each sealed to their own kind/ID/version (AAD), so a writer of store.db cannot alter a
// row, but could put back an older sealed copy of it, delete it, or copy it in from elsewhere; all of these change
// the set of (kind, ID, version), which no longer matches the sealed digest at the next start (the HMAC key is
// derived from the data key, so the digest cannot be recomputed without it). What this cannot see: the whole file
// (rows and sealed digest together) put back to an older copy. That needs state kept outside the file.
import { deriveKey, hmac, open, seal } from '../../shared/crypto.js';

const AAD = Buffer.from('store_state');

export class StateDigest {
  private readonly key: Buffer;
  private acc = Buffer.alloc(32);

  constructor(dek: Buffer) {
    this.key = deriveKey(dek, 'store state');
  }

  /** Adds or removes (the same operation) one row. */
  toggle(kind: string, id: string, version: number): void {
    const h = hmac(this.key, `${kind}\0${id}\0${version}`);
    for (let i = 0; i < 32; i++) this.acc[i]! ^= h[i]!;
  }

  snapshot(): Buffer {
    return Buffer.from(this.acc);
  }

  restore(s: Buffer): void {
    this.acc = Buffer.from(s);
  }

  /** The digest and the store's index, sealed under objKey (written in the meta row 'state'). */
  sealed(objKey: Buffer, index: number): Buffer {
    const plain = Buffer.alloc(40);
    this.acc.copy(plain, 0);
    plain.writeBigUInt64BE(BigInt(index), 32);
    return seal(objKey, plain, AAD);
  }

  /** Why the rows do not match a sealed state, or null when they do. */
  mismatch(objKey: Buffer, sealedState: Buffer, index: number): string | null {
    const plain = open(objKey, sealedState, AAD, "the store's sealed state");
    const sealedIndex = Number(plain.readBigUInt64BE(32));
    if (sealedIndex !== index) return `its index is ${index} but its sealed state says ${sealedIndex}`;
    if (!plain.subarray(0, 32).equals(this.acc)) return 'its rows are not the ones its sealed state lists (a row was rolled back to an older version, removed, or copied in)';
    return null;
  }
}
