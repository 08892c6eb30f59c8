// `runsecrets manager …` commands: init, join-token, unlock-key, cert admin, signals and the socket's mode.
import t from 'tap';
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { childEnv, isRoot, request, runCli, runsecretsCommand, startManager, waitFor } from '../helpers/manager.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

t.test('init: prints the join command, makes 0600 files in a 0700 dir, refuses a dir holding a cluster', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = join(dir, 'state');
  const r = await runCli(['manager', 'init', '--state-dir', state, '--advertise-addr', '10.0.0.5:2377']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^Swarm initialized: current node \([0-9a-z]{25}\) is now a manager\.\n\nTo add a worker to this swarm, run the following command:\n\n {4}RUNSECRETS_TOKEN=RSTKN-1-[0-9a-z]{50}-[0-9a-z]{25} runsecrets agent run --manager 10\.0\.0\.5:2377\n/);
  t.notMatch(r.stdout, /RSKEY/, 'no unlock key without --autolock');
  t.equal(statSync(state).mode & 0o777, 0o700);
  const again = await runCli(['manager', 'init', '--state-dir', state]);
  t.equal(again.code, 1);
  t.match(again.stderr, /already holds a cluster/);
  const cfg = readFileSync(join(state, 'cluster.json'), 'utf8');
  const token = /RSTKN-1-[0-9a-z]+-([0-9a-z]+)/.exec(r.stdout)?.[1] ?? 'missing';
  t.notOk(cfg.includes(token), 'the token secret is not stored');
  // a file in the way
  const file = join(dir, 'afile');
  writeFileSync(file, 'x');
  t.match((await runCli(['manager', 'init', '--state-dir', file])).stderr, /exists and is not a directory/);
  // a dir with unrelated files is fine; one with a store is not
  const other = join(dir, 'other');
  mkdirSync(other);
  writeFileSync(join(other, 'store.db'), '');
  t.match((await runCli(['manager', 'init', '--state-dir', other])).stderr, /already holds a cluster \(found store\.db\)/);
});

t.test('run: errors name the problem', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runCli(['manager', 'run', '--state-dir', join(dir, 'none'), '--socket', join(dir, 's.sock'), '--listen', 'none']);
  t.equal(r.code, 1);
  t.match(r.stderr, /holds no cluster/);
});

t.test('join-token, unlock-key, cert admin through the socket; socket mode 0600', async (t) => {
  const m = await startManager({ t });
  t.equal(statSync(m.socket).mode & 0o777, 0o600, 'socket is root-only');
  const q = await m.cli(['manager', 'join-token', 'worker', '-q', '--socket', m.socket]);
  t.equal(q.stdout.trim(), m.workerToken);
  const full = await m.cli(['manager', 'join-token', 'manager', '--socket', m.socket]);
  t.match(full.stdout, /^Adding a manager to this swarm is not supported yet \(runsecrets runs a single manager\): joins with the manager token are refused\.\n\n {4}RSTKN-1-/);
  const mq = /RSTKN-1-\S+/.exec(full.stdout)?.[0];
  t.not(mq, m.workerToken, 'manager and worker tokens differ');
  const rot = await m.cli(['manager', 'join-token', 'worker', '--rotate', '--socket', m.socket]);
  t.match(rot.stdout, /^Successfully rotated worker join token\.\n\n/);
  const newTok = /RSTKN-1-\S+/.exec(rot.stdout)?.[0];
  t.not(newTok, m.workerToken, 'rotated');
  const mgrAgain = await m.cli(['manager', 'join-token', 'manager', '--socket', m.socket]);
  t.equal(/RSTKN-1-\S+/.exec(mgrAgain.stdout)?.[0], mq, `the manager token is unchanged (${mgrAgain.stderr})`);
  await m.restart();
  t.equal((await m.cli(['manager', 'join-token', 'worker', '-q', '--socket', m.socket])).stdout.trim(), newTok, 'rotation survives restart');
  const bad = await m.cli(['manager', 'join-token', 'boss', '--socket', m.socket]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /unknown role boss/);
  const uk = await m.cli(['manager', 'unlock-key', '--socket', m.socket]);
  t.equal(uk.code, 1);
  t.equal(uk.stderr, 'Error: no unlock key is set\n');
  const out = join(m.dir, 'admin2');
  const cert = await m.cli(['manager', 'cert', 'admin', '--out', out, '--socket', m.socket]);
  t.equal(cert.code, 0, cert.stderr);
  t.equal(statSync(join(out, 'key.pem')).mode & 0o777, 0o600);
  const twice = await m.cli(['manager', 'cert', 'admin', '--out', out, '--socket', m.socket]);
  t.equal(twice.code, 1);
  t.match(twice.stderr, /already exists; refusing to overwrite/);
  const down = await runCli(['manager', 'join-token', 'worker', '--socket', join(m.dir, 'nope.sock')]);
  t.equal(down.code, 1);
  t.match(down.stderr, /Cannot connect to the runsecrets manager at unix:\/\/.*nope\.sock\. Is the manager running\?/);
});

t.test('a second manager on the same state dir or socket is refused', async (t) => {
  const m = await startManager({ t, tcp: false });
  const r = await runCli(['manager', 'run', '--state-dir', m.stateDir, '--socket', join(m.dir, 'other.sock'), '--listen', 'none']);
  t.equal(r.code, 1);
  t.match(r.stderr, /another manager \(pid \d+\) is running/);
  t.equal((await request(m.socket, 'GET', '/_ping')).status, 200, 'the first one is unharmed');
});

t.test('a start-up failure is said once (it was logged and printed three times)', async (t) => {
  const m = await startManager({ t, tcp: true });
  const r = await runCli(['manager', 'run', '--state-dir', join(m.dir, 'copy'), '--socket', join(m.dir, 'other.sock'), '--listen', 'none']);
  t.equal(r.code, 1);
  t.equal(r.stderr.match(/holds no cluster/g)?.length, 1, `a state dir without a cluster: once (${r.stderr})`);
  await m.stop();
  // The port is taken (by a listener of ours): the TCP listener fails after the store was opened.
  const busy = http.createServer();
  await new Promise<void>((res) => busy.listen(0, '127.0.0.1', res));
  t.teardown(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const l = await runCli(['manager', 'run', '--state-dir', m.stateDir, '--socket', m.socket, '--listen', `127.0.0.1:${port}`]);
  t.equal(l.code, 1);
  t.equal(l.stderr.match(/EADDRINUSE/g)?.length, 1, `once: ${l.stderr}`);
  t.match(l.stderr, `cannot listen on TCP 127.0.0.1:${port}`);
});

t.test('SIGINT and SIGTERM: clean exit 0, socket removed', async (t) => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const m = await startManager({ t, tcp: false });
    await m.stop(); // the helper's own process is stopped; start one by hand to send the signal ourselves
    const [cmd, argv] = runsecretsCommand(['manager', 'run', '--state-dir', m.stateDir, '--socket', m.socket, '--listen', 'none']);
    const child = spawn(cmd, argv, { stdio: 'ignore', env: childEnv() });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(async () => (await request(m.socket, 'GET', '/_ping')).status === 200, 'manager up');
    child.kill(sig);
    t.equal(await exited, 0, `${sig}: exit 0`);
    t.throws(() => statSync(m.socket), `${sig}: socket removed`);
  }
});

t.test('the stock docker CLI can rotate tokens and read them (docker swarm join-token)', async (t) => {
  const m = await startManager({ t, tcp: false });
  const env = childEnv({ DOCKER_HOST: m.dockerHost });
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const c = spawn('docker', ['swarm', 'join-token', '-q', 'worker'], { env });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', () => resolve({ code: -1, out }));
    c.on('close', (code) => resolve({ code, out }));
  });
  if (r.code === -1) {
    t.comment('skipped: the docker CLI is not installed');
    return;
  }
  t.equal(r.code, 0);
  t.equal(r.out.trim(), m.workerToken);
});
