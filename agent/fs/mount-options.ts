// Mount options for the secrets filesystem. Some are fixed by the security model; the cache ones are tunable so
// that the benchmark can compare them, but every choice here must never serve stale or revoked bytes.

export interface CacheTuning {
  /** Bypass the page cache: no copy of secret bytes in kernel memory that we cannot wipe, no stale pages. */
  directIo: boolean;
  /** Seconds the kernel may cache names and attributes. Bytes never come from these caches. */
  entryTimeout: number;
  attrTimeout: number;
  negativeTimeout: number;
}

export const DEFAULT_TUNING: CacheTuning = { directIo: true, entryTimeout: 1, attrTimeout: 1, negativeTimeout: 0 };

export function mountOptions(t: CacheTuning): { fuseOpts: Record<string, unknown>; extra: string[] } {
  const fuseOpts = {
    allowOther: true, // tasks run as other users...
    defaultPermissions: true, // ...and the kernel enforces each file's owner and mode for them
    autoUnmount: true, // kill -9 leaves no mount behind
    fsname: 'runsecrets',
    subtype: 'runsecrets',
    timeout: false as const, // never answer ETIMEDOUT on our behalf
  };
  const extra = [
    'ro',
    'nosuid',
    'nodev',
    'noexec',
    `entry_timeout=${t.entryTimeout}`,
    `attr_timeout=${t.attrTimeout}`,
    `negative_timeout=${t.negativeTimeout}`,
  ];
  if (t.directIo) extra.push('direct_io');
  return { fuseOpts, extra };
}
