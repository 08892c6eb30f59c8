// Store errors, in swarmkit's words (manager/state/store/memory.go); the API maps them to Docker's messages.
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
export class NotFoundError extends StoreError {
  constructor() {
    super('object does not exist');
  }
}
export class ExistsError extends StoreError {
  constructor() {
    super('object already exists');
  }
}
export class NameConflictError extends StoreError {
  constructor() {
    super('name conflicts with an existing object');
  }
}
export class SequenceConflictError extends StoreError {
  constructor() {
    super('update out of sequence');
  }
}
export class CompactedError extends StoreError {
  constructor(from: number, oldest: number) {
    super(`watch from index ${from} is no longer possible: events before ${oldest} were compacted; list again`);
  }
}
export class StoreClosedError extends StoreError {
  constructor() {
    super('the store is closed');
  }
}
/** store.db does not hold what the manager last committed: changed by something else. The manager refuses it. */
export class StoreIntegrityError extends StoreError {
  constructor(why: string) {
    super(`store.db was changed outside the manager: ${why}; refusing to start on it (restore it from a backup the manager wrote, or investigate)`);
  }
}
/** A commit's guard (types.ts Guard) did not hold; nothing of the commit was written. */
export class GuardError extends StoreError {
  constructor(
    readonly guard: import('./types.js').Guard,
    /** For an 'unreferenced' guard: the objects that reference it, sorted by ID. */
    readonly referrers: import('./types.js').StoredObject[] = [],
  ) {
    super(`guard failed: ${guardText(guard)}`);
  }
}

function guardText(g: import('./types.js').Guard): string {
  switch (g.guard) {
    case 'present':
      return `${g.kind} ${g.id}${g.name === undefined ? '' : ` named ${g.name}`} does not exist`;
    case 'absent':
      return `${g.kind} ${g.id} exists`;
    case 'version':
      return `${g.kind} ${g.id} is not at version ${g.version}`;
    case 'unreferenced':
      return `${g.kind} ${g.id} is referenced by a ${g.by}`;
    case 'nameFree':
      return `a ${g.kind} holds that name`;
  }
}
