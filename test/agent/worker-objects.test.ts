// The worker's received bytes (agent/worker/objects.ts): copies of the frame's blobs, zeroed when replaced or dropped.
import t from 'tap';
import { ObjectCache } from '../../agent/worker/objects.js';
import { isWiped } from '../../agent/secretstore/bytes.js';

t.test('copies, changes, drops and wipes', async (t) => {
  const c = new ObjectCache();
  const blob = Buffer.from('v1');
  let u = c.apply([{ kind: 'secret', id: 'a', version: 1, blob: 0 }], [blob], [], true);
  t.same([...u.changed], ['secret/a']);
  const held = c.get('secret', 'a')!;
  blob.fill(0);
  t.equal(held.toString(), 'v1', 'a copy: the frame is wiped without touching it');
  u = c.apply([{ kind: 'secret', id: 'a', version: 1, blob: 0 }], [Buffer.from('v1')], [], false);
  t.equal(u.changed.size, 0, 'the same bytes again: nothing changed');
  u = c.apply([{ kind: 'secret', id: 'a', version: 2, blob: 0 }], [Buffer.from('v2')], [], false);
  t.same([...u.changed], ['secret/a']);
  t.ok(isWiped(held), 'the replaced bytes are zeroed');
  c.apply([{ kind: 'config', id: 'b', version: 1, blob: 0 }], [Buffer.from('cfg')], [], false);
  const a2 = c.get('secret', 'a')!;
  u = c.apply([], [], [{ kind: 'secret', id: 'a' }], false);
  t.ok(u.dropped && isWiped(a2) && c.get('secret', 'a') === undefined, 'a removal zeroes and forgets');
  const b = c.get('config', 'b')!;
  u = c.apply([], [], [], true);
  t.ok(u.dropped && isWiped(b) && c.size === 0, 'a full state drops whatever it does not list');
  c.apply([{ kind: 'secret', id: 'z', version: 1, blob: 0 }], [Buffer.from('zz')], [], false);
  const z = c.get('secret', 'z')!;
  c.wipeAll();
  t.ok(isWiped(z) && c.size === 0, 'wipeAll');
});
