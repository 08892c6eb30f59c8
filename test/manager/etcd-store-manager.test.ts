// `manager init --store etcd` with one manager, on real processes: the manager runs its own etcd member (Debian's
// etcd-server, mutual TLS) and keeps every object there. One agent (process runtime) runs a service whose task reads
// its secret's file. A restart of the manager keeps everything (the member resumes from its data dir); kill -9 of the
// member: the manager's supervisor starts it again and writes work again; the member's data dir (WAL, snapshots,
// database) holds neither the secret's name nor its value; the stock docker CLI creates a secret; `manager backup`
// refuses the etcd store with a clear error.
import t from 'tap';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fuseSkipReason } from '../helpers/env.js';
import { etcdSkipReason, freePort } from '../helpers/etcd.js';
import { haveDocker, isRoot, request, runCli, startManager, waitFor, type ManagerHandle } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { createSecret, createService, runningTask, serviceSpec } from '../helpers/cluster-ops.js';
import { dockerCli } from '../helpers/docker-cli.js';

const skip = (!isRoot() ? 'the manager runs as root (its socket and state are root-only); run the tests as root' : false) || fuseSkipReason() || etcdSkipReason();
if (skip) {
  t.comment(`SKIP etcd store manager: ${skip}`);
  t.plan(0, `skipped: ${skip}`);
  process.exit(0);
}

process.env.RUNSECRETS_HEARTBEAT_MS = '500';

/** The pids of the etcd members the manager started, in order (its 'etcd member started' log lines). */
function memberPids(m: ManagerHandle): number[] {
  const pids: number[] = [];
  for (const line of m.logs().split('\n')) {
    if (!line.includes('"etcd member started"')) continue;
    try {
      const pid = (JSON.parse(line) as { pid?: unknown }).pid;
      if (typeof pid === 'number') pids.push(pid);
    } catch {
      // not a JSON line
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every regular file under dir (etcd's WAL, snapshots, bbolt database). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
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

const [clientPort, peerPort] = [await freePort(), await freePort()];
const m = await startManager({
  t,
  initArgs: ['--store', 'etcd', '--etcd-client-addr', `127.0.0.1:${clientPort}`, '--etcd-peer-addr', `127.0.0.1:${peerPort}`],
});
const seenPids = new Set<number>();
const agent = managedAgent({ managerPort: m.tcpPort, hostname: 'etcd-a', runtime: 'process' });
const out = mkdtempSync(join(tmpdir(), 'rs-etcdwire-out-'));
chmodSync(out, 0o777);
t.teardown(async () => {
  await stopOrKill(agent);
  rmSync(agent.dir, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  // A member whose manager died without stopping it (a failed test): not left behind.
  await m.stop();
  for (const pid of [...seenPids, ...memberPids(m)]) if (alive(pid)) process.kill(pid, 'SIGKILL');
});
await agent.start(m.workerToken);

// Names and values found nowhere else: what must not be readable in etcd's files.
const NAME = `db-${randomBytes(6).toString('hex')}`;
const VALUE = `pw-${randomBytes(12).toString('hex')}`;

t.test('init records the etcd store; the manager runs its member, leads, and serves a secret to a task', async (t) => {
  const config = JSON.parse(readFileSync(join(m.stateDir, 'cluster.json'), 'utf8')) as { store?: unknown };
  t.same(config.store, { kind: 'etcd', clientUrl: `https://127.0.0.1:${clientPort}`, peerUrl: `https://127.0.0.1:${peerPort}` }, 'cluster.json names the store and the member URLs');
  t.notOk(statSync(join(m.stateDir, 'store.db'), { throwIfNoEntry: false }), 'no SQLite file');
  t.ok(statSync(join(m.stateDir, 'etcd', 'data', 'member'), { throwIfNoEntry: false })?.isDirectory(), 'the member keeps its data in STATE-DIR/etcd/data');
  const pids = memberPids(m);
  t.equal(pids.length, 1, 'one member started');
  pids.forEach((p) => seenPids.add(p));
  t.match(m.logs(), /"msg":"elected leader"/, 'the manager leads (one manager)');
  t.match(m.logs(), /"backend":"etcd".*"msg":"store opened"|"msg":"store opened".*"backend":"etcd"/, 'the store opened is etcd');

  const id = await createSecret(m, NAME, Buffer.from(VALUE));
  const reader = ['/bin/sh', '-c', `while :; do cat /run/secrets/${NAME} > ${out}/v.tmp 2>/dev/null && mv ${out}/v.tmp ${out}/v; sleep 0.05; done`];
  await createService(m, serviceSpec('web', 'etcd-a', [{ id, name: NAME }], { command: reader }));
  await runningTask(m, 'web');
  await waitFor(() => read(join(out, 'v')) === VALUE, 'the task reading its secret');
  t.pass('the task reads its secret');
});

t.test('a manager restart keeps every object; the member resumes from its data dir', async (t) => {
  const before = (await request(m.socket, 'GET', '/secrets')).json as Array<{ ID: string; Version: { Index: number } }>;
  const task = await runningTask(m, 'web');
  const oldPid = memberPids(m)[0]!;
  await m.restart();
  t.notOk(alive(oldPid), 'the old member stopped with its manager');
  const pids = memberPids(m);
  t.equal(pids.length, 1, 'the new manager started one member');
  pids.forEach((p) => seenPids.add(p));
  const after = (await request(m.socket, 'GET', '/secrets')).json as Array<{ ID: string; Version: { Index: number } }>;
  t.same(after, before, 'the same secrets, IDs and versions');
  const again = await runningTask(m, 'web');
  t.equal(again.ID, task.ID, 'the same task runs on (not restarted)');
  await createSecret(m, `after-restart-${randomBytes(3).toString('hex')}`, Buffer.from('x'));
  // The orchestrator runs again (leader after the restart): a new service gets a task.
  await createService(m, serviceSpec('second', 'etcd-a', [], {}));
  await runningTask(m, 'second');
  t.pass('writes and orchestration work after the restart');
  t.equal(read(join(out, 'v')), VALUE, 'the task still reads its secret');
});

t.test('kill -9 of the etcd member: the manager starts it again and writes work again', async (t) => {
  const [pid] = memberPids(m);
  t.ok(pid !== undefined && alive(pid), 'the member runs');
  process.kill(pid!, 'SIGKILL');
  const next = await waitFor(() => memberPids(m).find((p) => p !== pid), 'the member started again', 30_000);
  seenPids.add(next);
  t.match(m.logs(), /"msg":"etcd member died: restarting"/, 'the supervisor saw it die');
  const name = `after-kill-${randomBytes(3).toString('hex')}`;
  await waitFor(async () => (await request(m.socket, 'POST', '/secrets/create', { Name: name, Data: Buffer.from('y').toString('base64') })).status === 201, 'a secret create accepted again', 30_000);
  const got = await request(m.socket, 'GET', `/secrets/${name}`);
  t.equal(got.status, 200, 'the write is there');
  t.equal(read(join(out, 'v')), VALUE, 'the task kept its file meanwhile');
});

t.test("the member's data dir holds neither the secret's name nor its value", async (t) => {
  const files = filesUnder(join(m.stateDir, 'etcd', 'data'));
  t.ok(files.some((f) => f.endsWith('.wal')), 'WAL files are there');
  t.ok(files.some((f) => f.endsWith('db')), 'the database is there');
  const hits: string[] = [];
  for (const f of files) {
    const bytes = readFileSync(f);
    for (const needle of [NAME, VALUE, Buffer.from(VALUE).toString('base64')]) if (bytes.includes(Buffer.from(needle))) hits.push(`${f}: ${needle}`);
  }
  t.same(hits, [], 'nothing readable');
  // The same search finds what etcd does keep in clear (the member's name, the manager's node ID): it can fail.
  const { nodeId } = JSON.parse(readFileSync(join(m.stateDir, 'cluster.json'), 'utf8')) as { nodeId: string };
  t.ok(files.some((f) => readFileSync(f).includes(Buffer.from(nodeId))), "the search finds the member's name");
});

t.test('docker secret create through the stock docker CLI', haveDocker() ? {} : { skip: 'needs the docker CLI on PATH (Debian package docker-cli or docker.io)' }, async (t) => {
  const cli = dockerCli();
  t.teardown(() => cli.cleanup());
  const r = await cli.run(m.dockerHost, ['secret', 'create', 'from-docker', '-'], 'docker-bytes');
  t.equal(r.code, 0, `docker secret create: ${r.stderr}`);
  const id = r.stdout.trim();
  const ls = await cli.run(m.dockerHost, ['secret', 'ls', '--format', '{{.ID}} {{.Name}}']);
  t.match(ls.stdout, `${id} from-docker`, 'docker secret ls shows it');
  const dup = await cli.run(m.dockerHost, ['secret', 'create', 'from-docker', '-'], 'other');
  t.not(dup.code, 0, 'a second create of the name is refused');
  t.match(dup.stderr, /already exists/, "Docker's text");
});

t.test('manager backup refuses the etcd store with a clear error', async (t) => {
  const r = await m.cli(['manager', 'backup', '--out', join(m.dir, 'b.backup'), '--socket', m.socket]);
  t.not(r.code, 0, 'refused');
  t.match(r.stderr, /etcd/, 'the error names the etcd store');
  t.notOk(statSync(join(m.dir, 'b.backup'), { throwIfNoEntry: false }), 'no file written');
});

t.test('init refuses etcd addresses without --store etcd, and host names', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-etcdwire-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = await runCli(['manager', 'init', '--state-dir', join(dir, 'a'), '--advertise-addr', '127.0.0.1:2377', '--etcd-client-addr', '127.0.0.1:1']);
  t.not(a.code, 0, 'refused');
  t.match(a.stderr, /need --store etcd/);
  const b = await runCli(['manager', 'init', '--state-dir', join(dir, 'b'), '--advertise-addr', '127.0.0.1:2377', '--store', 'etcd', '--etcd-client-addr', 'localhost:2379']);
  t.not(b.code, 0, 'refused');
  t.match(b.stderr, /IP addresses only/);
  t.notOk(statSync(join(dir, 'b', 'cluster.json'), { throwIfNoEntry: false }), 'nothing made');
  const c = await runCli(['manager', 'init', '--state-dir', join(dir, 'c'), '--advertise-addr', '127.0.0.1:2377']);
  t.equal(c.code, 0, 'the default still works');
  const cfg = JSON.parse(readFileSync(join(dir, 'c', 'cluster.json'), 'utf8')) as { store?: unknown };
  t.equal(cfg.store, undefined, 'SQLite: no store entry (as every older state dir)');
  t.ok(statSync(join(dir, 'c', 'store.db'), { throwIfNoEntry: false }), 'store.db made');
});

t.test('autolock: a restarted manager is locked, its member not started; unlocked, it serves what it had', async (t) => {
  const [cp, pp] = [await freePort(), await freePort()];
  const l = await startManager({ t, autolock: true, initArgs: ['--store', 'etcd', '--etcd-client-addr', `127.0.0.1:${cp}`, '--etcd-peer-addr', `127.0.0.1:${pp}`] });
  t.teardown(() => {
    for (const pid of memberPids(l)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  memberPids(l).forEach((p) => seenPids.add(p));
  const id = await createSecret(l, 'locked-one', Buffer.from('z'));
  await l.restart();
  t.same(memberPids(l), [], 'locked: no member started (the data key is not open)');
  t.equal((await request(l.socket, 'GET', '/secrets')).status, 503, 'locked: the API says so');
  const u = await l.unlock();
  t.equal(u.code, 0, `unlock: ${u.stderr}`);
  memberPids(l).forEach((p) => seenPids.add(p));
  t.equal(memberPids(l).length, 1, 'unlocked: the member started');
  const got = await request(l.socket, 'GET', `/secrets/${id}`);
  t.equal(got.status, 200, 'the secret is there after the unlock');
});
