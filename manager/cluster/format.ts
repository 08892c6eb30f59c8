// The state dir's format version: one number for the whole dir, kept in cluster.json ("format") and in store.db
// (SQLite's user_version). A newer runsecrets migrates an older dir when `manager run` starts (migrate.ts); an
// older runsecrets refuses a newer dir instead of misreading it.
//   1: the first release's layout (store.db without a user_version)
//   2: the format is written in both files, so that both can be checked before anything is read
export const STATE_FORMAT = 2;

/** Refuses a format this runsecrets does not know: newer ones are the operator's cue to upgrade. */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

/** Throws when `found` (the format of `what`) is newer than this runsecrets reads. */
export function refuseNewer(found: number, what = 'state dir'): void {
  if (found > STATE_FORMAT) {
    throw new FormatError(`${what} format ${found} is newer than this runsecrets supports (${STATE_FORMAT}): upgrade runsecrets`);
  }
}
