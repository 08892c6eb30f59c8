// Services, tasks and nodes go through the same encrypted Store: names unique per kind, versions from the global
// index, nothing readable in the file.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../manager/store/sqlite.js';
import { NameConflictError } from '../../manager/store/errors.js';
import { registerNode } from '../../manager/orchestrator/nodes.js';
import { randomKey } from '../../shared/crypto.js';
import { newId } from '../../shared/ids.js';

t.test('service, task and node objects: names, versions, encryption at rest', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-kinds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dek = randomKey();
  const store = new SqliteStore({ path: join(dir, 'store.db'), dek, writer: 'inline' });
  const svc = await store.create('service', { id: newId(), name: 'websvcname', spec: { Spec: { Name: 'websvcname', Env: ['PLAINTEXTMARKER=1'] } } });
  await t.rejects(store.create('service', { id: newId(), name: 'WebSvcName', spec: {} as never }), NameConflictError, 'unique case-insensitively');
  const sec = await store.create('secret', { id: newId(), name: 'websvcname', spec: {} as never });
  t.ok(sec, 'names are per kind');
  const task = await store.create('task', { id: newId(), name: null, spec: { ServiceID: svc.id } as never });
  const node = await registerNode(store, { hostname: 'hostnamemarker', labels: { zone: 'a' } });
  t.ok(svc.version < task.version && task.version < node.version, 'versions from the global index');
  t.equal((await store.list('task')).length, 1);
  t.match((await store.get('node', node.id))?.spec, { Spec: { Role: 'worker', Availability: 'active' }, Status: { State: 'ready' } });
  await store.close();
  for (const f of readdirSync(dir)) {
    const raw = readFileSync(join(dir, f));
    for (const marker of ['websvcname', 'PLAINTEXTMARKER', 'hostnamemarker']) t.notOk(raw.includes(marker), `${f} holds no ${marker}`);
  }
  const again = new SqliteStore({ path: join(dir, 'store.db'), dek, writer: 'inline' });
  t.equal((await again.getByName('service', 'websvcname'))?.id, svc.id, 'back after reopening');
  await again.close();
});
