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
