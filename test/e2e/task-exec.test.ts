// `runsecrets task exec` end to end: a real manager, two real agents, and the CLI as its own process talking to an
// agent's control socket. The command runs inside the task's mount namespace (it reads /run/secrets/NAME, which on
// the host is not where the agent mounts), as the task's user, in its folder, with its environment; exit codes,
// stdin, task resolution (ID, prefix, name), errors, and the root-only socket.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fuseSkip } from '../helpers/env.js';
import { startManager, request, type ManagerHandle, type CliResult } from '../helpers/manager.js';
import { managedAgent, stopOrKill, type ExecResult } from '../helpers/managed-agent.js';
import { forceUnmount } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';

const skip = fuseSkip();

/** Leaves a socket file at path the way a killed agent does: bound and listening, then SIGKILL (never unlinked). */
function staleSocket(path: string): ReturnType<typeof spawnSync> {
  const script = "require('node:net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))";
  return spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', script, path]);
}

interface TaskJson {
  ID: string;
  NodeID: string;
  Slot?: number;
  DesiredState: string;
  Status: { State: string };
}

async function tasksOf(m: ManagerHandle, service: string): Promise<TaskJson[]> {
  const r = await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`);
  return r.json as TaskJson[];
}

async function running(m: ManagerHandle, service: string, n: number): Promise<TaskJson[]> {
  return waitFor(`${n} running tasks of ${service}`, async () => {
    const all = await tasksOf(m, service);
    const ts = all.filter((x) => x.Status.State === 'running' && x.DesiredState === 'running');
    if (ts.length !== n) throw new Error(`tasks: ${JSON.stringify(all.map((x) => [x.ID.slice(0, 6), x.DesiredState, x.Status]))}`);
    return ts;
  }, { timeoutMs: 30_000 });
}

function ok(r: CliResult, what: string): CliResult {
  if (r.code !== 0) throw new Error(`${what} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return r;
}

const show = (r: ExecResult): string => `code ${String(r.code)}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`;

t.test('task exec', skip, async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';
  const m = await startManager({ t });
  const a = managedAgent({ managerPort: m.tcpPort, hostname: 'exec-a' });
  const b = managedAgent({ managerPort: m.tcpPort, hostname: 'exec-b' });
  const wd = mkdtempSync(join(tmpdir(), 'rs-exec-wd-'));
  chmodSync(wd, 0o755);
  t.teardown(async () => {
    for (const ag of [a, b]) await stopOrKill(ag);
    await m.cleanup();
    for (const d of [a.dir, b.dir, wd]) rmSync(d, { recursive: true, force: true });
  });
  await a.start(m.workerToken);
  await b.start(m.workerToken);
  const nodes = new Map(((await request(m.socket, 'GET', '/nodes')).json as { ID: string; Description: { Hostname: string } }[]).map((n) => [n.Description.Hostname, n.ID]));
  const nodeA = nodes.get('exec-a')!;
  const nodeB = nodes.get('exec-b')!;

  const SECRET = 'exec-secret-' + 'x'.repeat(40);
  ok(await m.cli(['secret', 'create', 'ex_pw', '-'], SECRET), 'secret create');
  ok(await m.cli(['service', 'create', '--name', 'ex', '--constraint', 'node.hostname==exec-a', '--secret', 'ex_pw', '--user', '1234:1234',
    '--workdir', wd, '--env', 'FOO=bar baz', '--detach', 'none', 'sleep', '1d']), 'service create ex');
  ok(await m.cli(['service', 'create', '--name', 'far', '--constraint', 'node.hostname==exec-b', '--secret', 'ex_pw', '--detach', 'none', 'sleep', '1d']), 'service create far');
  ok(await m.cli(['service', 'create', '--name', 'glob', '--mode', 'global', '--detach', 'none', 'sleep', '1d']), 'service create glob');
  const [ex] = await running(m, 'ex', 1);
  const [far] = await running(m, 'far', 1);
  await running(m, 'glob', 2);
  const exId = ex!.ID;

  await t.test('the control socket: root only, 0600', async (t) => {
    const st = statSync(a.socket);
    t.ok(st.isSocket(), `${a.socket} is a socket`);
    t.equal(st.mode & 0o777, 0o600, 'mode 0600');
    t.equal(st.uid, 0, 'owned by root');
  });

  await t.test('reads the secret inside the task namespace', async (t) => {
    let host: string | null = null;
    try {
      host = readFileSync('/run/secrets/ex_pw', 'utf8');
    } catch {
      /* not there on the host: as expected */
    }
    t.not(host, SECRET, 'the host path /run/secrets/ex_pw does not hold the secret (the agent mounts elsewhere)');
    const r = await a.exec(['ex.1', 'cat', '/run/secrets/ex_pw']);
    t.equal(r.code, 0, show(r));
    t.equal(r.stdout, SECRET, 'cat /run/secrets/ex_pw printed the secret');
  });

  await t.test("the task's user, folder and environment; -u, -w, -e", async (t) => {
    const id = await a.exec(['ex.1', 'id', '-u']);
    t.equal(id.stdout.trim(), '1234', `id -u: the task's user (${show(id)})`);
    const g = await a.exec(['ex.1', 'id', '-G']);
    t.equal(g.stdout.trim(), '1234', `id -G: the task's group only (${show(g)})`);
    const pwd = await a.exec(['ex.1', 'pwd']);
    t.equal(pwd.stdout.trim(), wd, "pwd: the task's working folder");
    const env = await a.exec(['ex.1', 'sh', '-c', 'echo "$FOO|$HOME|$PATH"']);
    t.equal(env.stdout.trim(), 'bar baz||/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `the task's env only (${show(env)})`);
    const root = await a.exec(['-u', '0', 'ex.1', 'id', '-u']);
    t.equal(root.stdout.trim(), '0', '-u 0 overrides the user');
    const w = await a.exec(['-w', '/tmp', 'ex.1', 'pwd']);
    t.equal(w.stdout.trim(), '/tmp', '-w overrides the folder');
    const e = await a.exec(['-e', 'X=1', '-e', 'FOO=over', 'ex.1', 'sh', '-c', 'echo "$X $FOO"']);
    t.equal(e.stdout.trim(), '1 over', '-e adds and overrides variables');
    const flags = await a.exec(['ex.1', 'ls', '-d', '/run/secrets']);
    t.equal(flags.stdout.trim(), '/run/secrets', 'flags after TASK are the command\'s');
    const dashdash = await a.exec(['ex.1', '--', 'echo', 'hi']);
    t.equal(dashdash.stdout, 'hi\n', '`--` before the command is accepted');
    const nowd = await a.exec(['-w', '/no/such/dir', 'ex.1', 'pwd']);
    t.equal(nowd.code, 126, `a missing folder: 126 (${show(nowd)})`);
    t.match(nowd.stderr, /working folder "\/no\/such\/dir" does not exist inside task/);
  });

  await t.test('exit codes pass through', async (t) => {
    const seven = await a.exec(['ex.1', 'sh', '-c', 'exit 7']);
    t.equal(seven.code, 7, `sh -c 'exit 7' -> 7 (${show(seven)})`);
    const nf = await a.exec(['ex.1', 'no-such-command-xyz']);
    t.equal(nf.code, 127, `not found -> 127 (${show(nf)})`);
    t.match(nf.stderr, /no-such-command-xyz/, 'names the command');
    writeFileSync(join(wd, 'not-executable'), 'data\n', { mode: 0o644 });
    const ni = await a.exec(['ex.1', join(wd, 'not-executable')]);
    t.equal(ni.code, 126, `not executable -> 126 (${show(ni)})`);
    const sig = await a.exec(['ex.1', 'sh', '-c', 'kill -TERM $$']);
    t.equal(sig.code, 143, `killed by SIGTERM -> 143 (${show(sig)})`);
  });

  await t.test('stdin with -i; none without', async (t) => {
    const withI = await a.exec(['-i', 'ex.1', 'cat'], { input: 'piped line 1\npiped line 2\n' });
    t.equal(withI.stdout, 'piped line 1\npiped line 2\n', `-i: cat echoes the input (${show(withI)})`);
    t.equal(withI.stderr, '', 'nothing else runs (no shell start-up files)');
    const noI = await a.exec(['ex.1', 'cat'], { input: 'not for cat\n' });
    t.equal(noI.code, 0, show(noI));
    t.equal(noI.stdout, '', 'without -i the command reads no stdin (as docker exec)');
  });

  await t.test('resolution: ID, prefix, names', async (t) => {
    for (const q of [exId, exId.slice(0, 12), 'ex.1', `ex.1.${exId}`]) {
      const r = await a.exec([q, 'cat', '/run/secrets/ex_pw']);
      t.equal(r.stdout, SECRET, `"${q}" names the task (${show(r)})`);
    }
    const g = await a.exec([`glob.${nodeA}`, 'true']);
    t.equal(g.code, 0, `a global service's task by SERVICE.NODEID (${show(g)})`);
    const gb = await b.exec([`glob.${nodeB}`, 'true']);
    t.equal(gb.code, 0, `and on the other agent (${show(gb)})`);
  });

  await t.test('errors: exit 1 and a clear text', async (t) => {
    const none = await a.exec(['nope.1', 'true']);
    t.equal(none.code, 1, show(none));
    t.match(none.stderr, /^Error: No such task: nope\.1\b/, 'unknown task');
    const other = await a.exec([far!.ID, 'true']);
    t.equal(other.code, 1, show(other));
    t.match(other.stderr, new RegExp(`^Error: No such task: ${far!.ID}\\b`), "another agent's task is unknown here");
    const otherGlob = await a.exec([`glob.${nodeB}`, 'true']);
    t.equal(otherGlob.code, 1, `${show(otherGlob)}`);
    const noAgent = await a.exec(['--agent-socket', join(a.dir, 'nothing.sock'), 'ex.1', 'true']);
    t.equal(noAgent.code, 1, show(noAgent));
    t.match(noAgent.stderr, new RegExp(`^Error: cannot reach the agent at ${join(a.dir, 'nothing.sock')}: no such socket`), 'no agent: names the socket and why');
    const usage = await a.exec(['ex.1']);
    t.equal(usage.code, 1, `no command: usage error (${show(usage)})`);

    // Ambiguous prefix: add tasks until two of this agent's task IDs share a first character (36 values: certain by 37).
    let common: string | null = null;
    for (const n of [8, 20, 36]) {
      if (n === 8) ok(await m.cli(['service', 'create', '--name', 'amb', '--replicas', '8', '--constraint', 'node.hostname==exec-a', '--detach', 'none', 'sleep', '1d']), 'service create amb');
      else ok(await m.cli(['service', 'scale', '--detach', `amb=${n}`]), 'service scale amb');
      const ts = await running(m, 'amb', n);
      const ids = [exId, ...ts.map((x) => x.ID)];
      common = [...new Set(ids.map((id) => id[0]!))].find((c) => ids.filter((id) => id.startsWith(c)).length >= 2) ?? null;
      if (common) break;
    }
    t.ok(common, 'two task IDs of this agent share a first character');
    const amb = await a.exec([common!, 'true']);
    t.equal(amb.code, 1, show(amb));
    t.match(amb.stderr, new RegExp(`^Error: task ID prefix "${common}" is ambiguous: it matches \\d+ tasks of this node`), 'ambiguous prefix');
    ok(await m.cli(['service', 'rm', 'amb']), 'service rm amb');

    // A stopped task: its process killed, the task ends (failed); until the manager's replacement runs and the old
    // one is dropped, exec must refuse it rather than enter anything.
    const pid = execFileSync('pgrep', ['-f', '-u', '1234', '^sleep 1d$'], { encoding: 'utf8' }).trim().split('\n')[0]!;
    process.kill(Number(pid), 'SIGKILL');
    await waitFor('the killed task to end', async () => (await tasksOf(m, 'ex')).find((x) => x.ID === exId && x.Status.State !== 'running'), { timeoutMs: 15_000 });
    const stopped = await a.exec([exId, 'true']);
    t.equal(stopped.code, 1, show(stopped));
    t.match(stopped.stderr, new RegExp(`^Error: (No such task: ${exId}|task ${exId} \\(ex\\.1\\) is not running)`), `a stopped task: ${stopped.stderr.trim()}`);
    // Its replacement takes the name ex.1.
    const [ex2] = await running(m, 'ex', 1);
    t.not(ex2!.ID, exId, 'a new task replaced it');
    const again = await waitFor('ex.1 to name the new task', async () => {
      const r = await a.exec(['ex.1', 'cat', '/run/secrets/ex_pw']);
      return r.code === 0 ? r : null;
    }, { timeoutMs: 15_000, intervalMs: 200 });
    t.equal(again.stdout, SECRET, 'ex.1 now names the replacement');
  });

  await t.test('a non-root user cannot use the socket', async (t) => {
    // The state dir (0700) already keeps others out; open it up to check the socket's own mode too.
    const dirMode = statSync(a.stateDir).mode & 0o777;
    const r0 = await a.exec(['ex.1', 'true'], { uid: 65534 });
    t.equal(r0.code, 1, show(r0));
    t.match(r0.stderr, /^Error: cannot reach the agent at .*agent\.sock: permission denied \(the control socket is root-only: run as root\)/, 'behind the 0700 state dir');
    chmodSync(a.stateDir, 0o711);
    try {
      const r = await a.exec(['ex.1', 'true'], { uid: 65534 });
      t.equal(r.code, 1, show(r));
      t.match(r.stderr, /^Error: cannot reach the agent at .*agent\.sock: permission denied/, 'the socket itself (0600) refuses uid 65534');
    } finally {
      chmodSync(a.stateDir, dirMode);
    }
  });

  await t.test('socket removed on shutdown; a stale one replaced at start', async (t) => {
    await b.stop();
    t.notOk(existsSync(b.socket), 'gone after a clean stop');
    // A socket left by a killed process: bound, never unlinked.
    const killed = staleSocket(b.socket);
    t.ok(existsSync(b.socket) && statSync(b.socket).isSocket(), `a stale socket is there (its process ended by ${String(killed.signal)})`);
    const stale = await b.exec([`glob.${nodeB}`, 'true']);
    t.equal(stale.code, 1, show(stale));
    t.match(stale.stderr, /connection refused/, 'the stale socket: connection refused');
    forceUnmount(b.mount);
    await b.start();
    await b.waitLog((l) => l.msg === 'replaced a stale control socket', 0, 15_000);
    const r = await waitFor(`exec on agent-b after its restart`, async () => {
      const x = await b.exec([`glob.${nodeB}`, 'true']);
      return x.code === 0 ? x : null;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    t.equal(r.code, 0, 'exec works again');
  });
});
