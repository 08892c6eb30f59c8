// create, update and delete as commits of one write: each backend (sqlite.ts, etcd.ts) implements commit() only,
// so the single writes cannot differ between them in what they check or how guards apply.
import type { CreateInput, Guard, Kind, KindMap, Stored, StoredObject, WriteOp } from './types.js';

export abstract class OneWriteCommits {
  abstract commit(writes: WriteOp[], guards?: Guard[]): Promise<StoredObject[]>;

  async create<K extends Kind>(kind: K, input: CreateInput<KindMap[K]>, guards: Guard[] = []): Promise<Stored<K>> {
    const [o] = await this.commit([{ op: 'create', kind, id: input.id, name: input.name, spec: input.spec } as WriteOp], guards);
    return o as Stored<K>;
  }

  async update<K extends Kind>(kind: K, id: string, expectedVersion: number, spec: KindMap[K], name?: string | null, guards: Guard[] = []): Promise<Stored<K>> {
    const [o] = await this.commit([{ op: 'update', kind, id, expectedVersion, spec, name } as WriteOp], guards);
    return o as Stored<K>;
  }

  async delete<K extends Kind>(kind: K, id: string, guards: Guard[] = []): Promise<Stored<K>> {
    const [o] = await this.commit([{ op: 'delete', kind, id } as WriteOp], guards);
    return o as Stored<K>;
  }
}
