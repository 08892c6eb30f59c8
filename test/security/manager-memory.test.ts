// Issue 9, finding 9 (a): the manager kept plaintext copies of a secret's bytes in its memory after `secret rm`
// (decoded request data, the store's sealing buffers). Every Buffer that holds a secret's bytes, or its JSON, is now
// zeroed once used. The attack: read the manager's memory (/proc/PID/mem, as root) for the secret's bytes after
// create, a labels update that sends the data again, and rm. What stays, and why, is counted and printed: the
// base64 text in V8 strings (the JSON request body as parsed, the store's decrypted cache while the secret exists),
// which JavaScript cannot zero; they go when V8 reuses their memory.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { isRoot, request, startManager } from '../helpers/manager.js';
import { describeHits, findInMemory } from '../helpers/memscan.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root and /proc/PID/mem needs root; run the tests as root');
  process.exit(0);
}

t.test("no copy of a secret's bytes in the manager's memory after create, update and rm", async (t) => {
  const m = await startManager({ t, logLevel: 'info' });
  const pid = m.pid()!;
  // 36 bytes (a multiple of 3), so that the base64 of the marker appears as is inside any base64 of the data.
  const marker = Buffer.from(`RSMARK-${randomBytes(12).toString('hex')}-42ZZ`);
  t.equal(marker.length % 3, 0);
  const b64 = Buffer.from(marker.toString('base64'));
  const count = (what: Buffer): ReturnType<typeof findInMemory> => findInMemory(pid, what);

  const created = await request(m.socket, 'POST', '/secrets/create', { Name: 'memscan', Data: marker.toString('base64') });
  t.equal(created.status, 201, created.text);
  const id = (created.json as { ID: string }).ID;
  const afterCreate = count(marker);
  t.same(afterCreate.length, 0, `no raw copy while the secret exists: ${describeHits(afterCreate)}`);

  const v = ((await request(m.socket, 'GET', `/secrets/${id}`)).json as { Version: { Index: number } }).Version.Index;
  const up = await request(m.socket, 'POST', `/secrets/${id}/update?version=${v}`, { Name: 'memscan', Labels: { a: 'b' }, Data: marker.toString('base64') });
  t.equal(up.status, 200, `labels updated with the data sent again: ${up.text}`);
  const afterUpdate = count(marker);
  t.same(afterUpdate.length, 0, `no raw copy after the update: ${describeHits(afterUpdate)}`);
  const b64WhileExists = count(b64).length;

  t.equal((await request(m.socket, 'DELETE', `/secrets/${id}`)).status, 204, 'removed');
  const afterRm = count(marker);
  const b64AfterRm = count(b64);
  t.comment(`figure manager memory: raw copies after create ${afterCreate.length}, after update ${afterUpdate.length}, after rm ${afterRm.length}; base64 copies (V8 strings) while it exists ${b64WhileExists}, after rm ${b64AfterRm.length}`);
  t.same(afterRm.length, 0, `no raw copy after rm: ${describeHits(afterRm)}`);
  t.ok(b64AfterRm.every((h) => h.region === '' || h.region.startsWith('[')), `base64 copies after rm are only in anonymous (V8 heap) memory: ${describeHits(b64AfterRm)}`);
});
