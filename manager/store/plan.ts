// What a commit does, decided once for both backends: its guards checked and its writes' checks (ID taken, name
// taken, stale version, missing object) made against a read view, giving the writes to make. SQLite runs it on its
// group view (single writer, so check and write are atomic); etcd runs it on its watched copy while recording what
// it read, and its transaction compares exactly those reads, so the check commits with the write or not at all.
import { ExistsError, GuardError, NameConflictError, NotFoundError, SequenceConflictError } from './errors.js';
import type { EventAction, Guard, Kind, StoredObject, WriteOp } from './types.js';

/** The state a commit is checked against. */
export interface ReadView {
  get(kind: Kind, id: string): StoredObject | null;
  /** The ID of the object of kind named name (any case), or null. */
  nameHolder(kind: Kind, name: string): string | null;
  /** The objects of kind `by` whose spec references kind/id (references.ts). */
  referrers(kind: Kind, id: string, by: Kind): StoredObject[];
}

export interface PlannedWrite {
  action: EventAction;
  /** The object after the write, its version still to be set by the backend; for a delete, the object as it was. */
  obj: StoredObject;
  previous: StoredObject | null;
}

export function nameSlot(kind: Kind, name: string): string {
  return `${kind}\0${name.toLowerCase()}`;
}

function checkGuard(view: ReadView, g: Guard): void {
  switch (g.guard) {
    case 'present': {
      const o = view.get(g.kind, g.id);
      if (!o || (g.name !== undefined && o.name !== g.name)) throw new GuardError(g);
      return;
    }
    case 'absent':
      if (view.get(g.kind, g.id)) throw new GuardError(g);
      return;
    case 'version':
      if (view.get(g.kind, g.id)?.version !== g.version) throw new GuardError(g);
      return;
    case 'unreferenced': {
      const users = view.referrers(g.kind, g.id, g.by);
      if (users.length > 0) throw new GuardError(g, [...users].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
      return;
    }
    case 'nameFree':
      if (view.nameHolder(g.kind, g.name) !== null) throw new GuardError(g);
      return;
  }
}

/** Checks guards (against the state before the commit), then each write in order (seeing the earlier ones). */
export function planCommit(view: ReadView, writes: WriteOp[], guards: Guard[], now: string): PlannedWrite[] {
  for (const g of guards) checkGuard(view, g);
  const objects = new Map<string, StoredObject | null>(); // this commit's writes so far
  const names = new Map<string, string | null>();
  const get = (kind: Kind, id: string): StoredObject | null => {
    const k = `${kind}/${id}`;
    return objects.has(k) ? (objects.get(k) ?? null) : view.get(kind, id);
  };
  const holder = (kind: Kind, name: string): string | null => {
    const s = nameSlot(kind, name);
    return names.has(s) ? (names.get(s) ?? null) : view.nameHolder(kind, name);
  };
  const out: PlannedWrite[] = [];
  for (const w of writes) {
    const cur = get(w.kind, w.id);
    let p: PlannedWrite;
    if (w.op === 'create') {
      if (cur) throw new ExistsError();
      if (w.name !== null && holder(w.kind, w.name) !== null) throw new NameConflictError();
      p = { action: 'create', obj: { kind: w.kind, id: w.id, name: w.name, version: 0, createdAt: now, updatedAt: now, spec: w.spec }, previous: null };
    } else if (w.op === 'update') {
      if (!cur) throw new NotFoundError();
      if (cur.version !== w.expectedVersion) throw new SequenceConflictError();
      const name = w.name === undefined ? cur.name : w.name;
      if (name !== null) {
        const h = holder(w.kind, name);
        if (h !== null && h !== w.id) throw new NameConflictError();
      }
      p = { action: 'update', obj: { ...cur, name, version: 0, updatedAt: now, spec: w.spec }, previous: cur };
    } else {
      if (!cur) throw new NotFoundError();
      p = { action: 'delete', obj: cur, previous: cur };
    }
    if (p.previous?.name != null) names.set(nameSlot(w.kind, p.previous.name), null);
    if (p.action === 'delete') objects.set(`${w.kind}/${w.id}`, null);
    else {
      objects.set(`${w.kind}/${w.id}`, p.obj);
      if (p.obj.name !== null) names.set(nameSlot(w.kind, p.obj.name), w.id);
    }
    out.push(p);
  }
  return out;
}
