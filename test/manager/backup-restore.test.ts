// Backup and restore on real processes: a manager with secrets, configs, a service and an agent's node is backed up
// while secrets are being created, stopped and wiped; the backup is restored into a new state dir, the manager
// started on it serves every object as before (IDs, versions, specs), the agent's node certificate is still
// accepted (it reconnects), and restored secret bytes reach a task. Wrong keys, corrupt files, non-empty targets
// are refused.
import t from 'tap';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuseSkipReason } from '../helpers/env.js';
import { isRoot, request, runCli, startManager, waitFor, type ManagerHandle } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { createSecret, createService, runningTask, serviceSpec } from '../helpers/cluster-ops.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

type Obj = { ID: string; Version: { Index: number }; CreatedAt: string; UpdatedAt: string; Spec: { Name: string } };

/** Every object the API shows, by kind, sorted by ID; tasks and nodes without their live status. */
async function everything(m: ManagerHandle): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const kind of ['secrets', 'configs', 'services', 'tasks', 'nodes']) {
    const list = (await request(m.socket, 'GET', `/${kind}`)).json as Array<Obj & { Status?: unknown }>;
    out[kind] = list
      .map((o) => (kind === 'tasks' || kind === 'nodes' ? { ID: o.ID, Spec: o.Spec } : o))
      .sort((a, b) => String((a as Obj).ID).localeCompare(String((b as Obj).ID)));
  }
  return out;
}

const read = (p: string): string | null => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
};

const skip = fuseSkipReason();
t.test('backup while writes go on; wipe; restore; every object served as before; node certificates accepted', skip ? { skip } : {}, async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';
  const m = await startManager({ t });
  const a = managedAgent({ managerPort: m.tcpPort, hostname: 'backup-a' });
  const out = mkdtempSync(join(tmpdir(), 'rs-backup-out-'));
  chmodSync(out, 0o777);
  t.teardown(async () => {
    await stopOrKill(a);
    rmSync(a.dir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });
  await a.start(m.workerToken);

  const dbBytes = Buffer.from([0, 1, 2, 0xff, 0x80, 0x0a, 0x41]);
  const db = await createSecret(m, 'db', dbBytes);
  const lab = await request(m.socket, 'GET', `/secrets/${db}`);
  const upd = await request(m.socket, 'POST', `/secrets/${db}/update?version=${(lab.json as Obj).Version.Index}`, { Name: 'db', Labels: { rotated: 'no' } });
  t.equal(upd.status, 200, 'a secret at version > its creation');
  t.equal((await request(m.socket, 'POST', '/configs/create', { Name: 'app.conf', Data: Buffer.from('port=1\n').toString('base64') })).status, 201);
  const reader = ['/bin/sh', '-c', `while :; do cat /run/secrets/db > ${out}/v.tmp 2>/dev/null && mv ${out}/v.tmp ${out}/v; sleep 0.05; done`];
  await createService(m, serviceSpec('web', 'backup-a', [{ id: db, name: 'db' }], { command: reader }));
  const task = await runningTask(m, 'web');
  await waitFor(() => read(join(out, 'v')) === dbBytes.toString(), 'the task reading its secret');

  // Sequential creates go on while the backup is taken.
  let n = 0;
  let writing = true;
  const writer = (async () => {
    while (writing) {
      const r = await request(m.socket, 'POST', '/secrets/create', { Name: `w-${n}`, Data: Buffer.from(`bytes-of-w-${n}`).toString('base64') });
      if (r.status !== 201) throw new Error(`create w-${n}: ${r.status} ${r.text}`);
      n++;
    }
  })();
  await waitFor(() => n >= 20, 'writes before the backup');
  const doneBefore = n;
  const file = join(m.dir, 'cluster.backup');
  const b = await m.cli(['manager', 'backup', '--out', file, '--socket', m.socket]);
  const startedBefore = n + 1;
  t.equal(b.code, 0, b.stderr);
  t.match(b.stdout, /^Backup of cluster \w+ at store index \d+ written to .*cluster\.backup \(\d+ bytes\)\n$/);
  t.equal(statSync(file).mode & 0o777, 0o600, 'the backup file is 0600');
  await waitFor(() => n >= startedBefore + 10, 'writes after the backup');
  writing = false;
  await writer;
  const again = await m.cli(['manager', 'backup', '--out', file, '--socket', m.socket]);
  t.match(again.stderr, 'already exists; refusing to overwrite it');

  // What the backup must hold: everything before it, and of the concurrent creates a prefix.
  const before = await everything(m);
  await m.stop();
  const kek = join(m.dir, 'kek.key.kept'); // the operator keeps kek.key apart from the backups
  copyFileSync(join(m.stateDir, 'kek.key'), kek);
  rmSync(m.stateDir, { recursive: true, force: true });

  const r = await runCli(['manager', 'restore', '--from', file, '--state-dir', m.stateDir, '--kek-file', kek]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^Restored cluster \w+ \(store index \d+, \d+ objects\) into /);
  t.same(readdirSync(m.stateDir).sort(), ['admin-certs.json', 'ca.crt', 'ca.key.sealed', 'cluster.json', 'kek.key', 'manager.crt', 'manager.key.sealed', 'store.db', 'token.key.sealed'], 'no manager.pid, no socket');
  for (const f of readdirSync(m.stateDir)) t.equal(statSync(join(m.stateDir, f)).mode & 0o777, 0o600, `${f} 0600`);
  t.equal(statSync(m.stateDir).mode & 0o777, 0o700);

  const from = a.logs().length;
  await m.restart(); // same socket and TCP port: the agent dials it again with its node certificate
  await a.waitLog((l) => l.msg === 'connected to the manager', from, 30_000);
  t.pass("the agent's node certificate is accepted by the restored manager");
  const after = await everything(m);

  const ws = (x: Record<string, unknown[]>) => (x.secrets as Obj[]).filter((s) => s.Spec.Name.startsWith('w-'));
  const restoredW = ws(after).map((s) => Number(s.Spec.Name.slice(2))).sort((x, y) => x - y);
  t.ok(restoredW.length >= doneBefore && restoredW.length <= startedBefore, `${restoredW.length} concurrent creates restored (done before: ${doneBefore}, started before its end: ${startedBefore})`);
  t.same(restoredW, [...restoredW.keys()], 'a prefix of them: the snapshot is consistent');
  const inBackup = new Set(ws(after).map((s) => s.ID));
  const expected = { ...before, secrets: (before.secrets as Obj[]).filter((s) => !s.Spec.Name.startsWith('w-') || inBackup.has(s.ID)) };
  t.same(after, expected, 'every secret, config, service, task and node as before: IDs, versions, specs, times');
  t.equal((await runningTask(m, 'web')).ID, task.ID, 'the same task runs on');

  // Restored bytes reach a task: a new service using a secret that exists only in the restored store's memory of it.
  const wOut = mkdtempSync(join(tmpdir(), 'rs-backup-w-'));
  chmodSync(wOut, 0o777);
  t.teardown(() => rmSync(wOut, { recursive: true, force: true }));
  const w0 = ws(after).find((s) => s.Spec.Name === 'w-0')!;
  await createService(m, serviceSpec('w0', 'backup-a', [{ id: w0.ID, name: 'w-0' }], { command: ['/bin/sh', '-c', `cat /run/secrets/w-0 > ${wOut}/v; sleep 1d`] }));
  await runningTask(m, 'w0');
  await waitFor(() => read(join(wOut, 'v')) === 'bytes-of-w-0', 'the restored secret bytes in a task');
  t.equal(read(join(out, 'v')), dbBytes.toString(), 'and the first task still reads its secret');
});

t.test('autolock backups need the unlock key; wrong keys, corrupt files and non-empty targets are refused', async (t) => {
  const m = await startManager({ t, autolock: true, tcp: false });
  const id = await createSecret(m, 'locked-secret', Buffer.from('locked-bytes'));
  const file = join(m.dir, 'b.backup');
  t.equal((await m.cli(['manager', 'backup', '--out', file, '--socket', m.socket])).code, 0);
  const bytes = readFileSync(file);
  t.notOk(bytes.includes(Buffer.from('locked-secret')) || bytes.includes(Buffer.from('BEGIN')), 'no name, no PEM readable in the file');
  const target = (name: string) => join(m.dir, name);
  const restore = (args: string[], input?: string) => runCli(['manager', 'restore', '--from', file, ...args], { input });

  const wrong = `RSKEY-1-${Buffer.alloc(32, 3).toString('base64').replace(/=+$/, '')}`;
  const w = await restore(['--state-dir', target('w')], `${wrong}\n`);
  t.equal(w.code, 1);
  t.match(w.stderr, 'Error: wrong key: the unlock key does not open');
  t.throws(() => statSync(target('w')), 'nothing made with a wrong key');
  t.match((await restore(['--state-dir', target('k'), '--kek-file', file])).stderr, /autolocked cluster: give its unlock key/);

  const corrupt = Buffer.from(bytes);
  corrupt[corrupt.length - 40]! ^= 0xff;
  writeFileSync(join(m.dir, 'corrupt.backup'), corrupt);
  const c = await runCli(['manager', 'restore', '--from', join(m.dir, 'corrupt.backup'), '--state-dir', target('c')], { input: `${m.unlockKey}\n` });
  t.equal(c.code, 1);
  t.match(c.stderr, 'is corrupt: its contents fail authentication');
  writeFileSync(join(m.dir, 'short.backup'), bytes.subarray(0, 30));
  t.match((await runCli(['manager', 'restore', '--from', join(m.dir, 'short.backup'), '--state-dir', target('s')])).stderr, /is corrupt: truncated header|is not a runsecrets backup/);
  writeFileSync(join(m.dir, 'other.backup'), 'hello');
  t.match((await runCli(['manager', 'restore', '--from', join(m.dir, 'other.backup'), '--state-dir', target('o')])).stderr, 'is not a runsecrets backup');

  mkdirSync(target('full'));
  writeFileSync(join(target('full'), 'x'), '');
  const full = await restore(['--state-dir', target('full')], `${m.unlockKey}\n`);
  t.equal(full.code, 1);
  t.match(full.stderr, 'is not empty: restore into a new or empty directory');

  const keyFile = join(m.dir, 'key');
  writeFileSync(keyFile, `${m.unlockKey}\n`, { mode: 0o600 });
  const ok = await restore(['--state-dir', target('ok'), '--unlock-key-file', keyFile]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /then unlock it with its unlock key/);
  t.same(readdirSync(target('ok')).sort(), ['admin-certs.json', 'ca.crt', 'ca.key.sealed', 'cluster.json', 'manager.crt', 'manager.key.sealed', 'store.db', 'token.key.sealed'], 'no kek.key, no first-run key, no pid file');
  await m.stop();
  const r = await startManager({ t, stateDir: target('ok'), autolock: true, startLocked: true, tcp: false });
  t.equal((await request(r.socket, 'GET', '/secrets')).status, 503, 'a restored autolocked manager starts locked');
  t.equal((await r.unlock(m.unlockKey ?? '')).code, 0);
  const s = (await request(r.socket, 'GET', `/secrets/${id}`)).json as Obj;
  t.equal(s.Spec.Name, 'locked-secret', 'and serves its secret after unlock');
});
