// The secret and config bytes this node received, by "kind/ID": one Buffer of our own per object, zeroed when it is
// replaced, dropped or the agent stops. Bytes never become strings here.
import type { ObjectData } from '../../shared/protocol.js';
import { ownedCopy } from '../secretstore/bytes.js';

export type ObjectKind = 'secret' | 'config';

export function objectKey(kind: ObjectKind, id: string): string {
  return `${kind}/${id}`;
}

export interface ObjectsUpdate {
  /** Keys whose bytes are new or changed: the tasks that use them get their files again. */
  changed: Set<string>;
  /** Whether bytes were zeroed and let go (then the stack is scrubbed too). */
  dropped: boolean;
}

export class ObjectCache {
  private readonly objects = new Map<string, { version: number; data: Buffer; templating?: string }>();

  get size(): number {
    return this.objects.size;
  }

  /** The bytes of an object (the cache's own Buffer: copy before handing it on), or undefined. */
  get(kind: ObjectKind, id: string): Buffer | undefined {
    return this.objects.get(objectKey(kind, id))?.data;
  }

  /** The object's Templating driver name when its bytes are a template (rendered per task), else undefined. */
  templating(kind: ObjectKind, id: string): string | undefined {
    return this.objects.get(objectKey(kind, id))?.templating;
  }

  /**
   * Takes one assignment's objects: listed ones are copied from their blobs (the frame is wiped by the session),
   * removed ones are zeroed; with full, every object not listed goes too.
   */
  apply(objects: readonly ObjectData[], blobs: readonly Uint8Array[], remove: ReadonlyArray<{ kind: ObjectKind; id: string }>, full: boolean): ObjectsUpdate {
    const changed = new Set<string>();
    const listed = new Set<string>();
    let dropped = false;
    for (const o of objects) {
      const src = blobs[o.blob];
      if (!src) continue;
      const key = objectKey(o.kind, o.id);
      listed.add(key);
      const old = this.objects.get(key);
      if (old && old.version === o.version && old.templating === o.templating && old.data.equals(src)) continue;
      old?.data.fill(0);
      const entry: { version: number; data: Buffer; templating?: string } = { version: o.version, data: ownedCopy(src) };
      if (o.templating !== undefined) entry.templating = o.templating;
      this.objects.set(key, entry);
      changed.add(key);
    }
    const drop = (key: string): void => {
      const o = this.objects.get(key);
      if (!o) return;
      o.data.fill(0);
      this.objects.delete(key);
      dropped = true;
    };
    for (const r of remove) drop(objectKey(r.kind, r.id));
    if (full) for (const key of [...this.objects.keys()]) if (!listed.has(key)) drop(key);
    return { changed, dropped };
  }

  /** Zeroes and forgets everything (the agent stops). */
  wipeAll(): void {
    for (const o of this.objects.values()) o.data.fill(0);
    this.objects.clear();
  }
}
