// Payload limits, as swarmkit enforces them (reference §2.2): valid iff 1 <= size < MAX.
export const MAX_SECRET_SIZE = 500 * 1024; // 512000: the largest secret is 511,999 bytes
export const MAX_CONFIG_SIZE = 1000 * 1024; // 1024000: the largest config is 1,023,999 bytes

export type PayloadKind = 'secret' | 'config';

export function maxPayloadSize(kind: PayloadKind): number {
  return kind === 'secret' ? MAX_SECRET_SIZE : MAX_CONFIG_SIZE;
}

/** Docker's text for a payload of the wrong size, or null when the size is allowed. */
export function payloadSizeError(kind: PayloadKind, size: number): string | null {
  const max = maxPayloadSize(kind);
  return size >= 1 && size < max ? null : `${kind} data must be larger than 0 and less than ${max} bytes`;
}
