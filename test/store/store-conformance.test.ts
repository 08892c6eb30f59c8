// One suite, both Store backends (SQLite, etcd): every method's semantics and errors, guarded commits, watch replay
// and live, and the race the guards exist for (delete a secret vs. a service coming to reference it).
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../manager/store/sqlite.js';
import { EtcdStore } from '../../manager/store/etcd.js';
import { CompactedError, ExistsError, GuardError, NameConflictError, NotFoundError, SequenceConflictError, StoreClosedError } from '../../manager/store/errors.js';
import type { Store, StoreEvent } from '../../manager/store/types.js';
import type { ObjectSpec } from '../../manager/api/objects.js';
import type { ServiceRecord } from '../../manager/orchestrator/types.js';
import { randomKey } from '../../shared/crypto.js';
import { newId } from '../../shared/ids.js';
import { etcdSkipReason, startEtcd, type EtcdMember } from '../helpers/etcd.js';

const secret = (data = 'c2VjcmV0'): ObjectSpec => ({ Labels: null, Data: data });
function service(name: string, secretIds: string[] = []): ServiceRecord {
  const Secrets = secretIds.map((id) => ({ SecretID: id, SecretName: id, File: { Name: id, UID: '0', GID: '0', Mode: 292 } }));
  return { Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox', Secrets } } } };
}
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`not reached: ${what}`);
}

interface Backend {
  name: string;
  skip: string | false;
  open(t: Test): Promise<Store>;
}

const root = t;
let member: EtcdMember | null = null;
const etcdSkip = etcdSkipReason();
if (etcdSkip) process.stderr.write(`# SKIP etcd backend: ${etcdSkip}\n`);

const backends: Backend[] = [
  {
    name: 'sqlite',
    skip: false,
    open: async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'rs-conf-'));
      const store = new SqliteStore({ path: join(dir, 'store.db'), dek: randomKey() });
      t.teardown(async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      });
      return store;
    },
  },
  {
    name: 'etcd',
    skip: etcdSkip,
    open: async (t) => {
      if (!member) {
        const dir = mkdtempSync(join(tmpdir(), 'rs-conf-etcd-'));
        member = await startEtcd(dir);
        const m = member;
        // The member outlives this subtest: it is stopped at the file's end.
        root.teardown(async () => {
          await m.stop();
          rmSync(dir, { recursive: true, force: true });
        });
      }
      // Each test its own prefix: a store of its own in the shared member.
      const store = await EtcdStore.open({ endpoints: member.endpoints, dek: randomKey(), prefix: `rs-${newId()}/` });
      t.teardown(() => store.close());
      return store;
    },
  },
];

for (const b of backends) {
  t.test(`${b.name}: create, get, getByName, list, update, delete`, b.skip ? { skip: b.skip } : {}, async (t) => {
    const store = await b.open(t);
    const a = await store.create('secret', { id: newId(), name: 'Alpha', spec: secret() });
    t.ok(a.version > 0, 'a version from the index');
    t.equal(a.createdAt, a.updatedAt);
    t.same(await store.get('secret', a.id), a, 'read your write');
    t.same(await store.getByName('secret', 'ALPHA'), a, 'names are case-insensitive');
    t.equal(await store.get('secret', newId()), null);
    t.equal(await store.getByName('secret', 'nobody'), null);
    await t.rejects(store.create('secret', { id: newId(), name: 'alpha', spec: secret() }), NameConflictError);
    await t.rejects(store.create('secret', { id: a.id, name: 'other', spec: secret() }), ExistsError);
    const c = await store.create('config', { id: newId(), name: 'alpha', spec: secret() });
    t.ok(c.version > a.version, 'names are per kind; the index is global');
    t.ok((await store.currentIndex()) >= c.version);
    const t1 = await store.create('task', { id: newId(), name: null, spec: {} as never });
    const t2 = await store.create('task', { id: newId(), name: null, spec: {} as never });
    t.equal((await store.list('task')).length, 2, 'unnamed objects do not conflict');
    t.not(t1.id, t2.id);

    await t.rejects(store.update('secret', a.id, a.version + 100, secret('eA==')), SequenceConflictError);
    await t.rejects(store.update('secret', newId(), 1, secret()), NotFoundError);
    const a2 = await store.update('secret', a.id, a.version, { ...a.spec, Labels: { l: '1' } });
    t.ok(a2.version > c.version);
    t.equal(a2.createdAt, a.createdAt);
    t.same(a2.spec.Labels, { l: '1' });
    await t.rejects(store.update('secret', a.id, a.version, secret()), SequenceConflictError, 'a stale version is refused');
    const renamed = await store.update('secret', a.id, a2.version, a2.spec, 'Beta');
    t.equal((await store.getByName('secret', 'beta'))?.id, a.id);
    t.equal(await store.getByName('secret', 'alpha'), null, 'the old name is free');
    await store.create('secret', { id: newId(), name: 'ALPHA', spec: secret() });
    t.same((await store.list('secret')).map((o) => o.name).sort(), ['ALPHA', 'Beta']);

    const gone = await store.delete('secret', a.id);
    t.equal(gone.id, a.id);
    t.equal(gone.version, renamed.version, 'delete returns the object as it was');
    t.equal(await store.get('secret', a.id), null);
    t.equal(await store.getByName('secret', 'beta'), null);
    await t.rejects(store.delete('secret', a.id), NotFoundError);
    await store.create('secret', { id: newId(), name: 'beta', spec: secret() });
  });

  t.test(`${b.name}: writes after close are refused`, b.skip ? { skip: b.skip } : {}, async (t) => {
    const store = await b.open(t);
    const a = await store.create('secret', { id: newId(), name: 'a', spec: secret() });
    await store.close();
    await store.close(); // twice is fine
    await t.rejects(store.create('secret', { id: newId(), name: 'b', spec: secret() }), StoreClosedError);
    await t.rejects(store.update('secret', a.id, a.version, secret()), StoreClosedError);
    await t.rejects(store.delete('secret', a.id), StoreClosedError);
    await t.rejects(store.commit([{ op: 'delete', kind: 'secret', id: a.id }]), StoreClosedError);
  });

  t.test(`${b.name}: commit is all or nothing; guards`, b.skip ? { skip: b.skip } : {}, async (t) => {
    const store = await b.open(t);
    const s = await store.create('secret', { id: newId(), name: 's', spec: secret() });
    const before = await store.currentIndex();
    const x = newId();
    await t.rejects(
      store.commit([
        { op: 'create', kind: 'secret', id: x, name: 'x', spec: secret() },
        { op: 'create', kind: 'secret', id: newId(), name: 'S', spec: secret() },
      ]),
      NameConflictError,
    );
    t.equal(await store.get('secret', x), null, 'the first write of a failed commit is not there');
    t.equal(await store.currentIndex(), before, 'nothing committed');

    const [y, z] = await store.commit([
      { op: 'create', kind: 'secret', id: newId(), name: 'y', spec: secret() },
      { op: 'create', kind: 'service', id: newId(), name: 'web', spec: service('web', [s.id]) },
    ]);
    t.ok(y && z && (await store.get('secret', y.id)) && (await store.get('service', z.id)), 'both writes of a commit land');
    const swap = await store.commit([
      { op: 'delete', kind: 'secret', id: y!.id },
      { op: 'create', kind: 'secret', id: newId(), name: 'Y', spec: secret() },
    ]);
    t.equal(swap[0]!.id, y!.id, 'a commit sees its own earlier writes (name freed, then taken)');

    const fail = async (guard: Parameters<Store['commit']>[1], why: string): Promise<GuardError> => {
      const id = newId();
      const err = (await store.create('secret', { id, name: `g-${id}`, spec: secret() }, guard).catch((e: unknown) => e)) as GuardError;
      t.type(err, GuardError, why);
      t.equal(await store.get('secret', id), null, `${why}: nothing written`);
      return err;
    };
    await fail([{ guard: 'present', kind: 'secret', id: newId() }], 'present: missing');
    await fail([{ guard: 'present', kind: 'secret', id: s.id, name: 'other' }], 'present: another name');
    await fail([{ guard: 'absent', kind: 'secret', id: s.id }], 'absent: there');
    await fail([{ guard: 'version', kind: 'secret', id: s.id, version: s.version + 1000 }], 'version: another');
    await fail([{ guard: 'nameFree', kind: 'secret', name: 'S' }], 'nameFree: taken (any case)');
    const svc2 = await store.create('service', { id: newId(), name: 'api', spec: service('api', [s.id]) });
    const err = await fail([{ guard: 'unreferenced', kind: 'secret', id: s.id, by: 'service' }], 'unreferenced: used');
    t.same(err.referrers.map((o) => o.id), [z!.id, svc2.id].sort(), 'the guard names every referrer, by ID');
    const ok = await store.create('secret', { id: newId(), name: 'ok', spec: secret() }, [
      { guard: 'present', kind: 'secret', id: s.id, name: 's' },
      { guard: 'absent', kind: 'secret', id: newId() },
      { guard: 'version', kind: 'secret', id: s.id, version: s.version },
      { guard: 'nameFree', kind: 'config', name: 's' },
      { guard: 'unreferenced', kind: 'config', id: s.id, by: 'service' },
    ]);
    t.ok(await store.get('secret', ok.id), 'holding guards let the write through');
    await t.rejects(store.delete('secret', s.id, [{ guard: 'unreferenced', kind: 'secret', id: s.id, by: 'service' }]), GuardError);
    await store.update('service', z!.id, z!.version, service('web'), undefined);
    await store.delete('service', svc2.id);
    await store.delete('secret', s.id, [{ guard: 'unreferenced', kind: 'secret', id: s.id, by: 'service' }]);
    t.equal(await store.get('secret', s.id), null, 'unreferenced once no service names it');
  });

  t.test(`${b.name}: watch replays from an index, then goes live`, b.skip ? { skip: b.skip } : {}, async (t) => {
    const store = await b.open(t);
    const start = await store.currentIndex();
    const a = await store.create('secret', { id: newId(), name: 'a', spec: secret() });
    const a2 = await store.update('secret', a.id, a.version, secret('eQ=='));
    const mid = await store.currentIndex();
    await store.create('config', { id: newId(), name: 'c', spec: secret() });
    await store.delete('secret', a.id);
    const seen: StoreEvent[] = [];
    const unwatch = await store.watch(start, (e) => seen.push(e));
    const summary = (es: StoreEvent[]): string[] => es.map((e) => `${e.action} ${e.kind} ${e.id === a.id ? 'a' : 'c'}`);
    await until(() => seen.length >= 4, 'replay');
    t.same(summary(seen), ['create secret a', 'update secret a', 'create config c', 'delete secret a'], 'replayed in order');
    t.equal(seen[1]!.index, a2.version);
    const fromMid: StoreEvent[] = [];
    const unwatch2 = await store.watch(mid, (e) => fromMid.push(e));
    const d = await store.create('secret', { id: newId(), name: 'd', spec: secret() });
    await until(() => seen.length >= 5 && fromMid.length >= 3, 'live');
    t.equal(seen[4]!.id, d.id, 'then live');
    await store.delete('secret', d.id);
    await until(() => seen.length >= 6 && fromMid.length >= 4, 'live delete');
    t.equal(seen[5]!.action, 'delete');
    t.equal(seen[5]!.object?.name, 'd', 'a live delete carries the object as it was');
    t.same(fromMid.map((e) => e.action), ['create', 'delete', 'create', 'delete'], 'from a middle index: only what came after');
    for (let i = 1; i < seen.length; i++) t.ok(seen[i]!.index >= seen[i - 1]!.index, 'indexes do not go back');
    unwatch();
    unwatch2();
    await store.create('secret', { id: newId(), name: 'e', spec: secret() });
    await new Promise((r) => setTimeout(r, 100));
    t.equal(seen.length, 6, 'nothing after unwatch');
  });

  t.test(`${b.name}: 1,000 races of delete secret vs. a service coming to reference it`, b.skip ? { skip: b.skip } : {}, async (t) => {
    const store = await b.open(t);
    const tries = 1000;
    const outcome = { deleteWon: 0, serviceWon: 0 };
    for (let base = 0; base < tries; base += 25) {
      await Promise.all(
        Array.from({ length: 25 }, async (_, j) => {
          const i = base + j;
          const s = await store.create('secret', { id: newId(), name: `s${i}`, spec: secret() });
          const refGuard = [{ guard: 'present' as const, kind: 'secret' as const, id: s.id, name: s.name! }];
          // Half create a service naming it, half update an existing one to name it.
          const own = i % 2 === 0 ? null : await store.create('service', { id: newId(), name: `svc${i}`, spec: service(`svc${i}`) });
          const reference = (): Promise<unknown> =>
            own === null
              ? store.create('service', { id: newId(), name: `svc${i}`, spec: service(`svc${i}`, [s.id]) }, refGuard)
              : store.update('service', own.id, own.version, service(`svc${i}`, [s.id]), undefined, refGuard);
          const del = (): Promise<unknown> => store.delete('secret', s.id, [{ guard: 'unreferenced', kind: 'secret', id: s.id, by: 'service' }]);
          // The issue order alternates, so that on SQLite (one group per event-loop turn) each side goes first.
          const settled = i % 4 < 2 ? await Promise.allSettled([del(), reference()]) : (await Promise.allSettled([reference(), del()])).reverse();
          const [r1, r2] = settled as [PromiseSettledResult<unknown>, PromiseSettledResult<unknown>];
          const deleted = r1.status === 'fulfilled';
          const referenced = r2.status === 'fulfilled';
          if (deleted === referenced) t.fail(`try ${i}: exactly one of delete and reference must win (delete ${r1.status}, reference ${r2.status})`);
          for (const r of [r1, r2]) if (r.status === 'rejected' && !(r.reason instanceof GuardError)) t.fail(`try ${i}: ${String(r.reason)}`);
          if (deleted) outcome.deleteWon++;
          else outcome.serviceWon++;
        }),
      );
    }
    t.ok(outcome.deleteWon > 0 && outcome.serviceWon > 0, `both orders happened (delete won ${outcome.deleteWon}, service won ${outcome.serviceWon})`);
    const secrets = new Set((await store.list('secret')).map((s) => s.id));
    const dangling = (await store.list('service')).flatMap((svc) =>
      (svc.spec.Spec.TaskTemplate as { ContainerSpec: { Secrets: { SecretID: string }[] } }).ContainerSpec.Secrets.filter((x) => !secrets.has(x.SecretID)).map((x) => `${svc.spec.Spec.Name} -> ${x.SecretID}`),
    );
    t.same(dangling, [], 'no service references a missing secret');
  });
}

t.test('etcd: a compacted index gives CompactedError; the data key is checked; state survives a reopen', etcdSkip ? { skip: etcdSkip } : {}, async (t) => {
  await (await backends[1]!.open(t)).currentIndex(); // the shared member is up
  const dek = randomKey();
  const prefix = `rs-${newId()}/`;
  const store = await EtcdStore.open({ endpoints: member!.endpoints, dek, prefix });
  t.teardown(() => store.close());
  const a = await store.create('secret', { id: newId(), name: 'a', spec: secret() });
  const a2 = await store.update('secret', a.id, a.version, secret('eQ=='));
  await store.etcd.kv.compact({ revision: String(a2.version), physical: true });
  await t.rejects(store.watch(a.version - 1, () => undefined), CompactedError);
  await t.rejects(EtcdStore.open({ endpoints: member!.endpoints, dek: randomKey(), prefix }), /data key does not match/);
  const again = await EtcdStore.open({ endpoints: member!.endpoints, dek, prefix });
  t.teardown(() => again.close());
  t.same(await again.get('secret', a.id), a2, 'a second store on the same prefix reads the same object');
  t.same(await again.getByName('secret', 'A'), a2);
});
