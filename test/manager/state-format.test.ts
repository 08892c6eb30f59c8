// State dir format versions: a state dir made by the previous release (test/fixtures/state-v1, format 1, made by
// main before issue 14) is migrated to format 2 by `manager run` and serves every object as before, data bytes
// included; a dir or store of a newer format is refused with one clear error; a migration cut halfway is finished.
import t from 'tap';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isRoot, request, runCli, startManager } from '../helpers/manager.js';
import { OpenCluster } from '../../manager/cluster/state.js';
import { SqliteStore } from '../../manager/store/sqlite.js';
import { STATE_FORMAT } from '../../manager/cluster/format.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const FIXTURE = join(import.meta.dirname, '../fixtures/state-v1');
const SECRETS = { yyynm1rsc03dt2o7lefswg8ga: ['db_password', 1, Buffer.from('v1-secret-one')], zpbqbqt717tnafv4gkkmc6msg: ['api_key', 2, Buffer.from('v1-secret-two\x00\xff', 'latin1')] } as const;

function copyFixture(t: { teardown(fn: () => unknown): void }): { dir: string; stateDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rs-format-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  cpSync(FIXTURE, stateDir, { recursive: true, filter: (src) => !src.endsWith('README.md') });
  chmodSync(stateDir, 0o700);
  return { dir, stateDir };
}

const formatOf = (stateDir: string): unknown => (JSON.parse(readFileSync(join(stateDir, 'cluster.json'), 'utf8')) as { format: unknown }).format;
function userVersion(stateDir: string, set?: number): number {
  const db = new Database(join(stateDir, 'store.db'));
  try {
    if (set !== undefined) db.pragma(`user_version = ${set}`);
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}
const setFormat = (stateDir: string, format: number): void => {
  const c = JSON.parse(readFileSync(join(stateDir, 'cluster.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(stateDir, 'cluster.json'), JSON.stringify({ ...c, format }));
};
const runOnce = (stateDir: string, dir: string) => runCli(['manager', 'run', '--state-dir', stateDir, '--socket', join(dir, 'once.sock'), '--listen', 'none']);

t.test('a format-1 state dir from the previous release is migrated and serves everything as before', async (t) => {
  const { stateDir } = copyFixture(t);
  t.equal(formatOf(stateDir), 1, 'the fixture is format 1');
  t.equal(userVersion(stateDir), 0, 'its store has no user_version');
  const m = await startManager({ t, stateDir, tcp: false });
  const line = m.logs().split('\n').find((l) => l.includes('"state dir migrated"'));
  t.match(JSON.parse(line ?? '{}'), { from: 1, to: STATE_FORMAT }, 'one log line says it was migrated from 1 to 2');
  t.equal(formatOf(stateDir), 2);

  const secrets = (await request(m.socket, 'GET', '/secrets')).json as Array<{ ID: string; Version: { Index: number }; Spec: { Name: string; Labels: Record<string, string> } }>;
  t.same(
    secrets.map((s) => [s.ID, s.Spec.Name, s.Version.Index]).sort(),
    Object.entries(SECRETS).map(([id, [name, v]]) => [id, name, v]).sort(),
    'secrets: same IDs, names, versions',
  );
  t.same(secrets.find((s) => s.Spec.Name === 'db_password')?.Spec.Labels, { tier: 'db' });
  const configs = (await request(m.socket, 'GET', '/configs')).json as Array<{ ID: string; Version: { Index: number }; Spec: { Name: string; Data: string } }>;
  t.same(configs.map((c) => [c.ID, c.Spec.Name, c.Version.Index, Buffer.from(c.Spec.Data, 'base64').toString()]), [['hm70voq8zoaw7ilbqaoxli2bb', 'nginx.conf', 3, 'listen 80;\n']]);
  const services = (await request(m.socket, 'GET', '/services')).json as Array<{ ID: string; Spec: { Name: string; TaskTemplate: { ContainerSpec: { Secrets: Array<{ SecretID: string; File: { Name: string; Mode: number } }> } } } }>;
  t.equal(services.length, 1);
  t.equal(services[0]!.ID, 'smav4znziee8aj8xuizpk1q9x');
  t.same(services[0]!.Spec.TaskTemplate.ContainerSpec.Secrets.map((s) => [s.SecretID, s.File.Name, s.File.Mode]), [
    ['yyynm1rsc03dt2o7lefswg8ga', 'db_password', 0o444],
    ['zpbqbqt717tnafv4gkkmc6msg', 'key', 0o400],
  ]);
  const created = await request(m.socket, 'POST', '/secrets/create', { Name: 'after-migration', Data: Buffer.from('x').toString('base64') });
  t.equal(created.status, 201, 'writes work after the migration');
  t.equal(await m.stop(), 0);
  t.equal(userVersion(stateDir), STATE_FORMAT, 'the store carries the format as its user_version');

  // The secret bytes, as the manager would hand them to an agent: the store opened with the cluster's keys.
  const cluster = await OpenCluster.open(stateDir);
  const store = new SqliteStore({ path: cluster.storePath, dek: cluster.dek, writer: 'inline' });
  for (const [id, [, , bytes]] of Object.entries(SECRETS)) {
    const o = await store.get('secret', id);
    t.ok(o && Buffer.from(o.spec.Data, 'base64').equals(bytes), `secret ${id}: the same bytes`);
  }
  await store.close();

  await m.restart();
  t.notMatch(m.logs(), /state dir migrated/, 'a format-2 dir is not migrated again');
});

t.test('a newer state dir or store is refused with one clear error, and left as it was', async (t) => {
  const { dir, stateDir } = copyFixture(t);
  setFormat(stateDir, 3);
  const before = readFileSync(join(stateDir, 'store.db'));
  const r = await runOnce(stateDir, dir);
  t.equal(r.code, 1, 'exit 1');
  const want = 'state dir format 3 is newer than this runsecrets supports (2): upgrade runsecrets';
  t.equal(r.stderr.split(want).length - 1, 1, `said once: ${r.stderr}`);
  t.ok(readFileSync(join(stateDir, 'store.db')).equals(before), 'the store is untouched');
  t.equal(formatOf(stateDir), 3);

  setFormat(stateDir, 2);
  userVersion(stateDir, 3);
  const s = await runOnce(stateDir, dir);
  t.equal(s.code, 1);
  t.equal(s.stderr.split('store.db format 3 is newer than this runsecrets supports (2): upgrade runsecrets').length - 1, 1, `said once: ${s.stderr}`);
});

t.test('a migration cut halfway (store done, cluster.json not yet) is finished by the next run', async (t) => {
  const { stateDir } = copyFixture(t);
  userVersion(stateDir, 2); // what the first step leaves
  const m = await startManager({ t, stateDir, tcp: false });
  t.match(m.logs(), /state dir migrated/);
  t.equal(formatOf(stateDir), 2);
  t.equal(((await request(m.socket, 'GET', '/secrets')).json as unknown[]).length, 2);
  await m.stop();
});
