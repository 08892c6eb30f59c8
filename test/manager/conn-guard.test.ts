// The cap on unauthenticated TLS connections: the oldest go first, per source and in total; limits follow the
// descriptor limit. (The flood on a real manager is test/security/connection-flood.test.ts.)
import t from 'tap';
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { UnauthenticatedConnections, guardLimitsFor, maxConnectionsFor, openFileLimit } from '../../manager/api/conn-guard.js';

class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(readonly remoteAddress: string) {
    super();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}
const sock = (addr: string): FakeSocket & net.Socket => new FakeSocket(addr) as FakeSocket & net.Socket;

t.test('per source: the oldest connection of that source is dropped, others are not', async (t) => {
  const g = new UnauthenticatedConnections({ total: 100, perSource: 3 });
  const a = [sock('10.0.0.1'), sock('10.0.0.1'), sock('10.0.0.1')];
  const b = sock('10.0.0.2');
  for (const s of [...a, b]) g.admit(s);
  const a4 = sock('10.0.0.1');
  g.admit(a4);
  t.ok(a[0]!.destroyed, 'the oldest of the source went');
  t.notOk(a[1]!.destroyed || a[2]!.destroyed || a4.destroyed || b.destroyed, 'nobody else');
  t.equal(g.size, 4);
  t.equal(g.evicted, 1);
});

t.test('in total: the oldest of all is dropped', async (t) => {
  const g = new UnauthenticatedConnections({ total: 3, perSource: 3 });
  const s = ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4'].map(sock);
  for (const x of s) g.admit(x);
  t.same(s.map((x) => x.destroyed), [true, false, false, false]);
  t.equal(g.size, 3);
});

t.test('authenticated and closed connections no longer count', async (t) => {
  const g = new UnauthenticatedConnections({ total: 2, perSource: 2 });
  const [x, y, z] = [sock('1.1.1.1'), sock('1.1.1.1'), sock('1.1.1.1')];
  g.admit(x);
  g.admit(y);
  g.authenticated(x);
  y.destroy(); // the peer left
  t.equal(g.size, 0);
  g.admit(z);
  g.admit(sock('1.1.1.1'));
  t.notOk(x.destroyed, 'an authenticated connection is never dropped by the cap');
  t.notOk(z.destroyed);
  t.equal(g.evicted, 0);
});

t.test('limits follow the descriptor limit and keep a reserve', async (t) => {
  t.equal(openFileLimit('Max open files            20000                20000                files\n'), 20000);
  t.equal(openFileLimit('Max open files            unlimited            unlimited            files\n'), 1 << 20);
  t.equal(openFileLimit('nothing'), 1024);
  t.ok(openFileLimit() >= 256, 'this process has a limit');
  t.same(guardLimitsFor(20000), { total: 5000, perSource: 2500 });
  t.same(guardLimitsFor(1024), { total: 256, perSource: 128 });
  t.same(guardLimitsFor(1 << 20), { total: 8192, perSource: 4096 });
  t.ok(maxConnectionsFor(20000) <= 20000 - 2500, 'a reserve for the Unix socket, the store and logs');
  t.ok(maxConnectionsFor(1024) <= 1024 - 256);
});
