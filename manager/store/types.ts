// The one Store interface. The API (and later the orchestrator and dispatcher) use only this; the embedded SQLite
// backend implements it today, an etcd backend can implement it later without touching callers.

/** Object kinds: Swarm's objects (networks are recorded for compose stacks; tasks use the host's network). */
export type Kind = 'secret' | 'config' | 'service' | 'task' | 'node' | 'network';

export interface StoredObject<S = unknown> {
  kind: Kind;
  id: string;
  /** Unique per kind, case-insensitively; null for kinds without names (tasks). */
  name: string | null;
  /** The global commit index of the object's last write (Docker's Version.Index). */
  version: number;
  createdAt: string; // RFC 3339 with nanoseconds
  updatedAt: string;
  spec: S;
}

export interface CreateInput<S> {
  id: string;
  name: string | null;
  spec: S;
}

export type EventAction = 'create' | 'update' | 'delete';

export interface StoreEvent {
  index: number;
  action: EventAction;
  kind: Kind;
  id: string;
  /** The object after the change; for a delete, the object as it was. Null when a replayed object is gone since. */
  object: StoredObject | null;
}

export type Unwatch = () => void;

export interface Store {
  readonly backend: string;
  /** The index of the last committed write (0 for an empty store). */
  currentIndex(): Promise<number>;
  get<S>(kind: Kind, id: string): Promise<StoredObject<S> | null>;
  getByName<S>(kind: Kind, name: string): Promise<StoredObject<S> | null>;
  list<S>(kind: Kind): Promise<StoredObject<S>[]>;
  /** Fails with NameConflictError (name taken, any case) or ExistsError (ID taken). */
  create<S>(kind: Kind, input: CreateInput<S>): Promise<StoredObject<S>>;
  /** Replaces spec (and name) if the stored version equals expectedVersion, else SequenceConflictError. */
  update<S>(kind: Kind, id: string, expectedVersion: number, spec: S, name?: string | null): Promise<StoredObject<S>>;
  /** Deletes and returns the deleted object; NotFoundError if absent. */
  delete<S>(kind: Kind, id: string): Promise<StoredObject<S>>;
  /** Calls listener for every event after fromIndex (replayed first, then live) until unwatched. */
  watch(fromIndex: number, listener: (e: StoreEvent) => void): Promise<Unwatch>;
  close(): Promise<void>;
}
