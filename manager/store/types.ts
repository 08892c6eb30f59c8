// The one Store interface. The API, the orchestrator and the dispatcher use only this; the embedded SQLite backend
// (sqlite.ts) and the etcd backend (etcd.ts) implement it with the same semantics (test/store/store-conformance).
import type { ObjectSpec } from '../api/objects.js';
import type { NetworkRecord } from '../api/network-record.js';
import type { NodeRecord, ServiceRecord, TaskRecord } from '../orchestrator/types.js';

/** Each kind and the spec type its objects hold: reads and writes infer the spec from the kind. */
export interface KindMap {
  secret: ObjectSpec;
  config: ObjectSpec;
  service: ServiceRecord;
  task: TaskRecord;
  node: NodeRecord;
  /** Networks are recorded for compose stacks; tasks use the host's network. */
  network: NetworkRecord;
}
export type Kind = keyof KindMap;
export const KINDS: readonly Kind[] = ['secret', 'config', 'service', 'task', 'node', 'network'];

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
/** A stored object of kind K. */
export type Stored<K extends Kind> = StoredObject<KindMap[K]>;
/** A stored object of any kind, its spec typed by its kind (narrow on `kind`). */
export type AnyStored = { [K in Kind]: Stored<K> & { kind: K } }[Kind];

export interface CreateInput<S> {
  id: string;
  name: string | null;
  spec: S;
}

/** One write of a commit. A commit's writes see the earlier writes of the same commit. */
export type WriteOp = {
  [K in Kind]:
    | { op: 'create'; kind: K; id: string; name: string | null; spec: KindMap[K] }
    /** name: undefined keeps the stored name. Fails with SequenceConflictError unless at expectedVersion. */
    | { op: 'update'; kind: K; id: string; expectedVersion: number; spec: KindMap[K]; name?: string | null }
    | { op: 'delete'; kind: K; id: string };
}[Kind];

/**
 * A condition checked atomically with a commit's writes, against the state before them. A failed guard fails the
 * whole commit with GuardError, and nothing of it is written.
 */
export type Guard =
  /** kind/id exists (and, when name is given, is named exactly that): a reference to it is valid. */
  | { guard: 'present'; kind: Kind; id: string; name?: string }
  | { guard: 'absent'; kind: Kind; id: string }
  | { guard: 'version'; kind: Kind; id: string; version: number }
  /** No object of kind `by` references kind/id (references.ts says what references what). */
  | { guard: 'unreferenced'; kind: Kind; id: string; by: Kind }
  /** No object of kind holds name (any case). */
  | { guard: 'nameFree'; kind: Kind; name: string };

export type EventAction = 'create' | 'update' | 'delete';

export interface StoreEvent {
  /** The commit's index. Writes of one commit may share it (etcd: one revision per transaction). */
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
  get<K extends Kind>(kind: K, id: string): Promise<Stored<K> | null>;
  getByName<K extends Kind>(kind: K, name: string): Promise<Stored<K> | null>;
  list<K extends Kind>(kind: K): Promise<Stored<K>[]>;
  /** Fails with NameConflictError (name taken, any case), ExistsError (ID taken) or GuardError. */
  create<K extends Kind>(kind: K, input: CreateInput<KindMap[K]>, guards?: Guard[]): Promise<Stored<K>>;
  /** Replaces spec (and name) if the stored version equals expectedVersion, else SequenceConflictError. */
  update<K extends Kind>(kind: K, id: string, expectedVersion: number, spec: KindMap[K], name?: string | null, guards?: Guard[]): Promise<Stored<K>>;
  /** Deletes and returns the deleted object; NotFoundError if absent, GuardError if a guard fails. */
  delete<K extends Kind>(kind: K, id: string, guards?: Guard[]): Promise<Stored<K>>;
  /**
   * Applies writes all together or not at all, if every guard holds. Resolves with the objects written, in the
   * order of writes (for a delete, the object as it was). Errors as create/update/delete, or GuardError.
   */
  commit(writes: WriteOp[], guards?: Guard[]): Promise<StoredObject[]>;
  /** Calls listener for every event after fromIndex (replayed first, then live) until unwatched. */
  watch(fromIndex: number, listener: (e: StoreEvent) => void): Promise<Unwatch>;
  close(): Promise<void>;
}
