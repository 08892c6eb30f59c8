// Unit tests of the SQLite store: CRUD, versions, case-insensitive names, group commit, watch, persistence, and
// that the file holds nothing readable.
import t, { type Test } from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../manager/store/sqlite.js';
import { NameConflictError, NotFoundError, SequenceConflictError, ExistsError, CompactedError } from '../../manager/store/errors.js';
import type { StoreEvent } from '../../manager/store/types.js';
import { randomKey } from '../../shared/crypto.js';
import { newId } from '../../shared/ids.js';
import { parseRfc3339Nano } from '../../shared/time.js';

// The same suite runs for both ways of committing (writer thread, inline); a future etcd backend of the Store
// interface can run the backend-neutral parts of it too.
for (const writer of ['thread', 'inline'] as const) {
  function tempStore(t: Test, dek = randomKey()): { store: SqliteStore; path: string; dek: Buffer; dir: string } {
    const dir = mkdtempSync(join(tmpdir(), 'rs-store-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'store.db');
    return { store: new SqliteStore({ path, dek, writer }), path, dek, dir };
  }

  t.test(`${writer}: create, get, list, update with version check, delete`, async (t) => {
    const { store } = tempStore(t);
    t.teardown(() => store.close());
    const a = await store.create('secret', { id: newId(), name: 'Alpha', spec: { v: 1 } as never });
    t.equal(a.version, 1);
    t.equal(a.createdAt, a.updatedAt);
    t.ok(parseRfc3339Nano(a.createdAt), 'RFC 3339 timestamp');
    t.same(await store.get('secret', a.id), a);
    t.same(await store.getByName('secret', 'alpha'), a, 'name lookup is case-insensitive');
    await t.rejects(store.create('secret', { id: newId(), name: 'ALPHA', spec: {} as never }), NameConflictError);
    await t.rejects(store.create('secret', { id: a.id, name: 'other', spec: {} as never }), ExistsError);
    const c = await store.create('config', { id: newId(), name: 'alpha', spec: {} as never });
    t.equal(c.version, 2, 'names are unique per kind; the index is global');
    await t.rejects(store.update('secret', a.id, 99, { v: 2 } as never), SequenceConflictError);
    const a2 = await store.update('secret', a.id, 1, { v: 2 } as never);
    t.equal(a2.version, 3);
    t.equal(a2.createdAt, a.createdAt);
    t.not(a2.updatedAt, a.updatedAt);
    t.same(a2.spec, { v: 2 });
    await t.rejects(store.update('secret', a.id, 1, { v: 3 } as never), SequenceConflictError, 'stale version refused');
    t.equal((await store.list('secret')).length, 1);
    const gone = await store.delete('secret', a.id);
    t.equal(gone.id, a.id);
    t.equal(await store.get('secret', a.id), null);
    await t.rejects(store.delete('secret', a.id), NotFoundError);
    t.equal(await store.currentIndex(), 4);
    // the name is free again
    await store.create('secret', { id: newId(), name: 'alpha', spec: {} as never });
  });

  t.test(`${writer}: concurrent creates of one name: exactly one wins; the others in the group still commit`, async (t) => {
    const { store } = tempStore(t);
    t.teardown(() => store.close());
    const results = await Promise.allSettled([
      ...Array.from({ length: 50 }, (_, i) => store.create('secret', { id: newId(), name: i % 2 ? 'same' : 'SAME', spec: {} as never })),
      store.create('secret', { id: newId(), name: 'different', spec: {} as never }),
    ]);
    const ok = results.slice(0, 50).filter((r) => r.status === 'fulfilled');
    t.equal(ok.length, 1);
    t.ok(results.slice(0, 50).every((r) => r.status === 'fulfilled' || r.reason instanceof NameConflictError));
    t.equal(results[50]?.status, 'fulfilled');
    t.equal((await store.list('secret')).length, 2);
    t.equal(await store.currentIndex(), 2, 'refused writes do not consume an index');
  });

  t.test(`${writer}: index rises monotonically across a group and across reopen; contents persist`, async (t) => {
    const { store, path, dek } = tempStore(t);
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => store.create('secret', { id: newId(), name: `s${i}`, spec: { i } as never })));
    const versions = made.map((o) => o.version).sort((a, b) => a - b);
    t.same(versions, Array.from({ length: 20 }, (_, i) => i + 1));
    const before = (await store.list('secret')).sort((a, b) => a.id.localeCompare(b.id));
    await store.close();
    const again = new SqliteStore({ path, dek, writer });
    t.teardown(() => again.close());
    t.same((await again.list('secret')).sort((a, b) => a.id.localeCompare(b.id)), before);
    t.equal(await again.currentIndex(), 20);
    const next = await again.create('secret', { id: newId(), name: 'later', spec: {} as never });
    t.equal(next.version, 21);
    await t.rejects(again.create('secret', { id: newId(), name: 'S3', spec: {} as never }), NameConflictError, 'name index survives reopen');
  });

  t.test(`${writer}: many large writes at once are split into bounded groups, and all commit`, async (t) => {
    const { store, path, dek } = tempStore(t);
    const big = 'x'.repeat(1_300_000); // about a maximal config in base64
    const made = await Promise.all(Array.from({ length: 30 }, (_, i) => store.create('config', { id: newId(), name: `big${i}`, spec: { Data: big } as never })));
    t.same(made.map((o) => o.version).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1));
    await store.close();
    const again = new SqliteStore({ path, dek, writer });
    t.teardown(() => again.close());
    t.equal((await again.list('config')).length, 30);
  });

  t.test(`${writer}: a wrong data key cannot open the store`, async (t) => {
    const { store, path } = tempStore(t);
    await store.create('secret', { id: newId(), name: 'x', spec: {} as never });
    await store.close();
    t.throws(() => new SqliteStore({ path, dek: randomKey(), writer }), /cannot decrypt/);
  });

  t.test(`${writer}: watch: replay from an index, then live events`, async (t) => {
    const { store } = tempStore(t);
    t.teardown(() => store.close());
    const a = await store.create('secret', { id: newId(), name: 'a', spec: {} as never });
    await store.create('secret', { id: newId(), name: 'b', spec: {} as never });
    await store.update('secret', a.id, a.version, { x: 1 } as never);
    const seen: StoreEvent[] = [];
    const unwatch = await store.watch(1, (e) => seen.push(e));
    t.same(
      seen.map((e) => [e.index, e.action]),
      [
        [2, 'create'],
        [3, 'update'],
      ],
    );
    await store.delete('secret', a.id);
    t.same(seen.at(-1)?.action, 'delete');
    t.equal(seen.at(-1)?.object?.name, 'a', 'a delete event carries the object as it was');
    unwatch();
    await store.create('secret', { id: newId(), name: 'c', spec: {} as never });
    t.equal(seen.length, 3, 'no events after unwatch');
  });

  t.test(`${writer}: watch from a compacted index is refused`, async (t) => {
    const { store } = tempStore(t);
    t.teardown(() => store.close());
    await store.create('secret', { id: newId(), name: 'a', spec: {} as never });
    await t.resolves(store.watch(0, () => undefined));
    await t.rejects(store.watch(-5, () => undefined), CompactedError);
  });

  t.test(`${writer}: nothing readable in the store files`, async (t) => {
    const { store, dir } = tempStore(t);
    const name = `NameMarker${newId()}`;
    const value = `ValueMarker${newId()}`;
    await store.create('secret', { id: newId(), name, spec: { Data: Buffer.from(value).toString('base64'), plain: value } as never });
    const check = (): void => {
      for (const f of readdirSync(dir)) {
        const bytes = readFileSync(join(dir, f));
        for (const m of [name, name.toLowerCase(), value, Buffer.from(value).toString('base64')]) {
          t.notOk(bytes.includes(m), `${m.slice(0, 12)}… absent from ${f}`);
        }
      }
    };
    check(); // WAL present
    await store.close();
    check(); // after checkpoint
  });
}
