// agent/session/manager-list.ts: the given managers first, then the cluster's kept list; a welcome's list replaces
// the kept one (and the file), the manager in use stays current; advance() wraps after every one was tried.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagerList, MANAGERS_FILE } from '../../agent/session/manager-list.js';
import { formatManagerAddr } from '../../shared/manager-addr.js';
import { createLogger } from '../../shared/log.js';

const log = createLogger('test', 'silent');
const addrs = (l: ManagerList): string[] => l.all.map((m) => formatManagerAddr(m.addr));

t.test('given, then kept; welcome updates kept and the file; current stays', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-mlist-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, MANAGERS_FILE), JSON.stringify({ managers: [{ addr: '10.0.0.2:2377', nodeId: 'm2' }, { addr: '10.0.0.1:2377' }, { addr: 'bad' }] }));
  const l = new ManagerList(dir, [{ host: '10.0.0.1', port: 2377 }], log);
  t.same(addrs(l), ['10.0.0.1:2377', '10.0.0.2:2377'], 'the given one first, kept ones after, no duplicate, a bad entry dropped');
  t.same(l.nodeIds, ['m2'], "the cluster's node IDs");
  t.equal(l.advance(), false, 'to the second');
  t.equal(formatManagerAddr(l.current), '10.0.0.2:2377');
  t.equal(l.advance(), true, 'wrapped to the first');

  l.advance(); // in session with 10.0.0.2
  l.update([{ addr: '10.0.0.3:2377', nodeId: 'm3' }, { addr: '[fd00::4]:2377', nodeId: 'm4' }]);
  t.same(addrs(l), ['10.0.0.1:2377', '10.0.0.3:2377', '[fd00::4]:2377', '10.0.0.2:2377'], "the cluster's list replaces the kept one; the manager in use stays (in memory)");
  t.equal(formatManagerAddr(l.current), '10.0.0.2:2377', 'still current');
  t.same(JSON.parse(readFileSync(join(dir, MANAGERS_FILE), 'utf8')), { managers: [{ addr: '10.0.0.3:2377', nodeId: 'm3' }, { addr: '[fd00::4]:2377', nodeId: 'm4' }] }, 'kept for the next start');

  const next = new ManagerList(dir, [], log);
  t.same(addrs(next), ['10.0.0.3:2377', '[fd00::4]:2377'], 'a later start knows the kept managers without any --manager');
});

t.test('no manager at all is an error', async (t) => {
  t.throws(() => new ManagerList(null, [], log), /no manager address/);
});
