// Durability and locking: restarts (clean and kill -9) keep every object unchanged with the index still rising;
// autolock starts locked, refuses a wrong key, opens with the right one; nothing readable at rest.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, request, startManager, type ApiResponse, type ManagerHandle } from '../helpers/manager.js';
import { newId } from '../../shared/ids.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const LOCKED = 'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const msg = (r: ApiResponse): string => (r.json as { message?: string } | undefined)?.message ?? r.text;

async function everything(m: ManagerHandle): Promise<unknown> {
  const s = (await request(m.socket, 'GET', '/secrets')).json as { ID: string }[];
  const c = (await request(m.socket, 'GET', '/configs')).json as { ID: string }[];
  return [s.sort((a, b) => a.ID.localeCompare(b.ID)), c.sort((a, b) => a.ID.localeCompare(b.ID))];
}

async function maxIndex(m: ManagerHandle): Promise<number> {
  const [s, c] = (await everything(m)) as { Version: { Index: number } }[][];
  return Math.max(0, ...[...(s ?? []), ...(c ?? [])].map((o) => o.Version.Index));
}

async function populate(m: ManagerHandle, n: number, prefix: string): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const kind = i % 3 === 0 ? 'configs' : 'secrets';
      const r = await request(m.socket, 'POST', `/${kind}/create`, { Name: `${prefix}${i}`, Labels: { i: String(i) }, Data: b64(`value ${i}`) });
      if (r.status !== 201) throw new Error(r.text);
    }),
  );
}

t.test('restart keeps every object unchanged; the index keeps rising', async (t) => {
  const m = await startManager({ t });
  await populate(m, 30, 'obj');
  const before = await everything(m);
  const idx = await maxIndex(m);
  t.equal((await m.stop()), 0, 'SIGTERM: clean exit 0');
  await m.restart();
  t.same(await everything(m), before, 'same after a clean restart');
  await populate(m, 5, 'more');
  const idx2 = await maxIndex(m);
  t.ok(idx2 > idx, `index rose: ${idx} -> ${idx2}`);
  const before2 = await everything(m);
  await m.kill9();
  await m.restart();
  t.same(await everything(m), before2, 'same after kill -9: every acknowledged write survived');
  const r = await request(m.socket, 'POST', '/secrets/create', { Name: 'after-kill', Data: b64('x') });
  const id = (r.json as { ID: string }).ID;
  const o = (await request(m.socket, 'GET', `/secrets/${id}`)).json as { Version: { Index: number } };
  t.ok(o.Version.Index > idx2, 'the index keeps rising after a crash');
});

t.test('autolock: locked after restart, wrong key refused, right key unlocks', async (t) => {
  const m = await startManager({ t, autolock: true });
  t.match(m.initOutput, /RSKEY-1-/);
  t.match(m.initOutput, /Please remember to store this key in a password manager/);
  await populate(m, 6, 'locked');
  const before = await everything(m);
  await m.restart();
  const ping = await request(m.socket, 'GET', '/_ping');
  t.equal(ping.headers['swarm'], 'locked');
  for (const [method, path] of [['GET', '/secrets'], ['GET', '/v1.47/configs'], ['POST', '/secrets/create'], ['GET', '/swarm'], ['GET', '/secrets/x']] as const) {
    const r = await request(m.socket, method, path, method === 'POST' ? { Name: 'x', Data: b64('x') } : undefined);
    t.equal(r.status, 503, `${method} ${path}`);
    t.equal(msg(r), LOCKED);
  }
  t.match((await request(m.socket, 'GET', '/info')).json, { Swarm: { LocalNodeState: 'locked' } });
  const wrongKey = `RSKEY-1-${Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')}`;
  for (const key of [wrongKey, 'garbage', 'SWMKEY-1-abc']) {
    const bad = await m.unlock(key);
    t.equal(bad.code, 1, `wrong key ${key.slice(0, 12)} refused`);
    t.match(bad.stderr, 'Error response from daemon: swarm could not be unlocked: invalid key provided');
  }
  t.equal((await request(m.socket, 'GET', '/secrets')).status, 503, 'still locked');
  const good = await m.unlock();
  t.equal(good.code, 0, good.stderr);
  t.same(await everything(m), before, 'everything there after unlock');
  const again = await request(m.socket, 'POST', '/swarm/unlock', { UnlockKey: m.unlockKey });
  t.equal(again.status, 409);
  t.equal(msg(again), 'swarm is not locked');
});

t.test('autolock: the first run after init is unlocked, later starts are locked; unlock --key-file for boot', async (t) => {
  const m = await startManager({ t, autolock: true });
  t.equal((await request(m.socket, 'GET', '/secrets')).status, 200, 'the first run is unlocked without a key given');
  t.notOk(existsSync(join(m.stateDir, 'unlock-key.first-run')), 'the key init left for it is gone from disk');
  t.match(m.logs(), /first run after init: unlocked/);
  await populate(m, 2, 'first');
  const before = await everything(m);

  await m.restart();
  t.equal((await request(m.socket, 'GET', '/secrets')).status, 503, 'the next start is locked');

  const keyFile = join(m.dir, 'unlock-key');
  const unlockWith = (path: string) => m.cli(['manager', 'unlock', '--key-file', path, '--socket', m.socket]);
  const missing = await unlockWith(join(m.dir, 'nope'));
  t.equal(missing.code, 1);
  t.match(missing.stderr, `Error: cannot read the unlock key file ${join(m.dir, 'nope')}: ENOENT`);
  writeFileSync(keyFile, '\n', { mode: 0o600 });
  t.match((await unlockWith(keyFile)).stderr, `the unlock key file ${keyFile} is empty`);
  writeFileSync(keyFile, `RSKEY-1-${Buffer.alloc(32, 9).toString('base64').replace(/=+$/, '')}\n`, { mode: 0o600 });
  const wrong = await unlockWith(keyFile);
  t.equal(wrong.code, 1, 'a wrong key in the file is refused');
  t.match(wrong.stderr, 'Error response from daemon: swarm could not be unlocked: invalid key provided');
  writeFileSync(keyFile, `${m.unlockKey}\n`, { mode: 0o600 });
  const good = await unlockWith(keyFile);
  t.equal(good.code, 0, good.stderr);
  t.same(await everything(m), before, 'unlocked from the key file, every object there');

  await m.restart();
  t.equal((await request(m.socket, 'GET', '/secrets')).status, 503, 'and locked again at the start after');
});

t.test('unlock-key rotation: the old key stops working', async (t) => {
  const m = await startManager({ t, autolock: true });
  const shown = await m.cli(['manager', 'unlock-key', '-q', '--socket', m.socket]);
  t.equal(shown.stdout.trim(), m.unlockKey);
  const rot = await m.cli(['manager', 'unlock-key', '--rotate', '--socket', m.socket]);
  t.equal(rot.code, 0, rot.stderr);
  t.match(rot.stdout, /^Successfully rotated manager unlock key\.\n\nTo unlock a swarm manager after it restarts/);
  const newKey = /RSKEY-1-[A-Za-z0-9+/]+/.exec(rot.stdout)?.[0] ?? '';
  t.not(newKey, m.unlockKey);
  await m.restart();
  t.equal((await m.unlock(m.unlockKey ?? '')).code, 1, 'old key refused');
  t.equal((await m.unlock(newKey)).code, 0, 'new key unlocks');
  t.equal((await request(m.socket, 'GET', '/secrets')).status, 200);
});

t.test('nothing readable at rest: name and value markers are in no file under the state dir', async (t) => {
  for (const autolock of [false, true]) {
    const m = await startManager({ t, autolock });
    const name = `NameMarker${newId()}`;
    const value = `ValueMarker${newId()}`;
    const labelValue = `LabelMarker${newId()}`;
    t.equal((await request(m.socket, 'POST', '/secrets/create', { Name: name, Labels: { l: labelValue }, Data: b64(value) })).status, 201);
    t.equal((await request(m.socket, 'POST', '/configs/create', { Name: `${name}c`, Data: b64(`${value}c`) })).status, 201);
    const markers = [name, name.toLowerCase(), value, b64(value), labelValue];
    const scan = (when: string): void => {
      const files: string[] = [];
      const walk = (d: string): void => {
        for (const f of readdirSync(d)) {
          const p = join(d, f);
          if (statSync(p).isDirectory()) walk(p);
          else files.push(p);
        }
      };
      walk(m.stateDir);
      t.ok(files.some((f) => f.endsWith('store.db-wal')), `${when}: the WAL is among the files`);
      let hits = 0;
      for (const f of files) {
        const bytes = readFileSync(f);
        for (const mk of markers) if (bytes.includes(mk)) hits++, t.fail(`${mk} found in ${f} (${when})`);
      }
      t.equal(hits, 0, `${when}: no marker in ${files.length} files (autolock ${autolock})`);
    };
    scan('running');
    await m.kill9();
    scan('after kill -9');
    for (const f of readdirSync(m.stateDir)) {
      const mode = statSync(join(m.stateDir, f)).mode & 0o777;
      if (mode !== 0o600) t.fail(`${f} has mode ${mode.toString(8)}`);
    }
    t.equal(statSync(m.stateDir).mode & 0o777, 0o700, 'state dir 0700');
  }
});
