// Tasks as real processes in private mount namespaces, reading a real secrets mount served by a real agent.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fuseSkip } from '../helpers/env.js';
import { startAgent, tempDirs, forceUnmount, isMounted, type AgentProc } from '../helpers/agent.js';
import { testExecutor } from '../helpers/executor.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = Buffer.from([0x73, 0x33, 0x00, 0xff, 0x0a, 0x63, 0x72, 0x33, 0x74, 0x0d]); // binary on purpose
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The host pid of the process that task (host pid) sees as nsPid: same PID namespace, NSpid ending in nsPid. */
function hostPid(task: number, nsPid: number): number {
  const ns = readlinkSync(`/proc/${task}/ns/pid`);
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) !== ns) continue;
      const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))![1]!.trim().split(/\s+/);
      if (Number(nspid[nspid.length - 1]) === nsPid) return Number(name);
    } catch {
      /* gone */
    }
  }
  throw new Error(`no process ${nsPid} in the PID namespace of ${task}`);
}

/** Mount points (with fs type) as a process sees them. */
function mountsOf(mountinfo: string): Array<{ path: string; fstype: string }> {
  return mountinfo
    .split('\n')
    .filter((l) => l.includes(' - '))
    .map((l) => ({ path: l.split(' ')[4]!.replace(/\\040/g, ' '), fstype: l.split(' - ')[1]!.split(' ')[0]! }));
}

/**
 * What a leaking task mount would change on the host: mounts of the agent's file system (by device number) and our
 * launcher's tmpfs and overlay mounts, as the host's mount table shows them, and what is mounted at /run/secrets.
 */
function hostView(agentMount: string): string {
  const rows = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(' - '));
  const dev = rows.find((l) => l.split(' ')[4] === agentMount)?.split(' ')[2];
  const ours = rows
    .filter((l) => l.split(' ')[2] === dev || / rs-task-(upper|overlay) /.test(l.split(' - ')[1] ?? ''))
    .map((l) => l.split(' ')[4]);
  const atRunSecrets = rows.filter((l) => l.split(' ')[4] === '/run/secrets').map((l) => l.split(' ')[2]);
  return JSON.stringify({ ours, atRunSecrets });
}

t.test('executor: tasks in private mount namespaces on a real secrets mount', fuseSkip(), async (t) => {
  const d = tempDirs('rs-exec-');
  writeFileSync(join(d.tasksDir, 'pw.bin'), SECRET);
  writeFileSync(join(d.tasksDir, 'theirs.txt'), 'not-yours');
  writeFileSync(
    join(d.tasksDir, 'web.yaml'),
    ['uid: 1000', 'gid: 1000', 'secrets:', '  - { file: ./pw.bin, target: pw, uid: 1000, gid: 1000, mode: "0400" }'].join('\n'),
  );
  writeFileSync(
    join(d.tasksDir, 'other.yaml'),
    ['uid: 2000', 'gid: 2000', 'secrets:', '  - { file: ./theirs.txt, target: theirs, uid: 2000, mode: "0400" }'].join('\n'),
  );
  // The parent of absolute targets: one file that exists, one name that does not, and a mount below it (which the
  // overlay must not hide).
  const etc = join(d.dir, 'etc-app');
  mkdirSync(join(etc, 'sub'), { recursive: true });
  writeFileSync(join(etc, 'existing.conf'), 'host-bytes');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'rs-test-sub', join(etc, 'sub')]);
  writeFileSync(join(etc, 'sub', 'inner'), 'inner-bytes');

  const te = testExecutor();
  let agent: AgentProc | undefined;
  t.teardown(async () => {
    await te.ex.stopAll();
    await agent?.stop();
    forceUnmount(d.mount);
    try {
      execFileSync('umount', [join(etc, 'sub')], { stdio: 'ignore' });
    } catch {
      /* not mounted */
    }
    rmSync(d.dir, { recursive: true, force: true });
  });
  agent = await startAgent(d);
  const web = join(d.mount, 'web');
  const hostRunSecrets = () => hostView(d.mount);
  const before = hostRunSecrets();
  t.equal(JSON.parse(before).ours.length, 1, 'the agent mount is found in the host mount table');
  const hostEtc = () => JSON.stringify([readdirSync(etc).sort(), readFileSync(join(etc, 'existing.conf'), 'utf8'), readdirSync(join(etc, 'sub'))]);
  const etcBefore = hostEtc();

  await t.test('the task reads /run/secrets/NAME as its user and gets the exact bytes; states in Docker order', async (t) => {
    const s = await te.run({ id: 'read', command: ['cat'], args: ['/run/secrets/pw'], env: [], user: '1000:1000', secretsDir: web });
    t.equal(s.state, 'complete');
    t.equal(s.exitCode, 0);
    t.same(te.ex.output('read')!.stdout, SECRET, 'exact bytes');
    t.same(te.states('read'), ['preparing', 'ready', 'starting', 'running', 'complete']);
  });

  await t.test('exit codes: non-zero fails with Docker\'s text', async (t) => {
    const s = await te.run({ id: 'exit3', command: ['sh', '-c', 'exit 3'], args: [], env: [], secretsDir: web });
    t.equal(s.state, 'failed');
    t.equal(s.exitCode, 3);
    t.equal(s.err, 'task: non-zero exit (3)');
    t.same(te.states('exit3'), ['preparing', 'ready', 'starting', 'running', 'failed']);
  });

  await t.test('a missing executable: failed, naming it', async (t) => {
    const s = await te.run({ id: 'nobin', command: ['/no/such/binary'], secretsDir: web });
    t.equal(s.state, 'failed');
    t.equal(s.exitCode, 127);
    t.equal(s.err, 'starting task failed: cannot run "/no/such/binary": executable file not found');
  });

  await t.test('no command: rejected with a clear error', async (t) => {
    const s = await te.run({ id: 'nocmd', command: [], args: [], env: [], secretsDir: web });
    t.equal(s.state, 'rejected');
    t.equal(s.err, 'No command specified');
    t.same(te.states('nocmd'), ['preparing', 'rejected']);
  });

  await t.test('its own UTS namespace: the hostname given, the host\'s untouched; its own PID namespace', async (t) => {
    const host = execFileSync('uname', ['-n'], { encoding: 'utf8' }).trim();
    const s = await te.run({ id: 'uts', command: ['sh', '-c', 'uname -n; echo "pid=$$"; ls /proc | grep -c "^[0-9]"'], secretsDir: web, hostname: 'web-1.task' });
    t.equal(s.state, 'complete', String(s.err));
    const [name, , count] = te.ex.output('uts')!.stdout.toString().split('\n');
    t.equal(name, 'web-1.task');
    // Its launcher (PID 1), itself, ls and grep: nothing of the host's.
    t.ok(Number(count) <= 4, `its own PID namespace: ${count} processes in its /proc`);
    t.equal(execFileSync('uname', ['-n'], { encoding: 'utf8' }).trim(), host, "the host's hostname is unchanged");
    const bad = await te.run({ id: 'uts-bad', command: ['true'], secretsDir: web, hostname: 'a b' });
    t.equal(bad.state, 'rejected');
    t.match(bad.err, /^invalid hostname "a b"/);
  });

  await t.test('env, dir and user are applied, and nothing else leaks into the environment', async (t) => {
    const s = await te.run({
      id: 'envdir',
      command: ['sh', '-c'],
      args: ['printf "%s|%s|%s|%s|%s\\n" "$FOO" "$(pwd)" "$(id -u):$(id -g)" "$(id -G)" "$PATH"'],
      env: ['FOO=bar baz=qux'],
      dir: '/run/secrets',
      user: '1000:1001',
      secretsDir: web,
    });
    t.equal(s.state, 'complete');
    t.equal(te.ex.output('envdir')!.stdout.toString(), `bar baz=qux|/run/secrets|1000:1001|1001|${DEFAULT_PATH}\n`);
    await te.run({ id: 'envonly', command: ['env'], env: ['A=1', 'PATH=/bin:/usr/bin'], secretsDir: web });
    t.same(te.ex.output('envonly')!.stdout.toString().trim().split('\n').sort(), ['A=1', 'PATH=/bin:/usr/bin']);
    const missing = await te.run({ id: 'nodir', command: ['true'], dir: '/no/such/dir', secretsDir: web });
    t.equal(missing.state, 'failed');
    t.match(missing.err, /working folder "\/no\/such\/dir" does not exist/);
  });

  await t.test('absolute targets: bound in the namespace only, host file system unchanged', async (t) => {
    const s = await te.run({
      id: 'abs',
      command: ['sh', '-c', 'cat "$1/existing.conf"; echo; cat "$1/new.conf"; echo; ls -A "$1" | sort | tr "\\n" " "; echo; cat "$1/sub/inner"', 'sh', etc],
      user: '1000',
      secretsDir: web,
      absoluteMounts: [
        { source: 'pw', target: join(etc, 'existing.conf') },
        { source: join(web, 'pw'), target: join(etc, 'new.conf') },
      ],
    });
    t.equal(s.state, 'complete', String(s.err ?? te.ex.output('abs')!.stderr));
    const out = te.ex.output('abs')!.stdout;
    const expected = Buffer.concat([SECRET, Buffer.from('\n'), SECRET, Buffer.from('\nexisting.conf new.conf sub \ninner-bytes')]);
    t.same(out, expected, 'both targets show the secret; the folder keeps its other entries and the mount below it');
    t.equal(hostEtc(), etcBefore, 'the host folder is unchanged: no new.conf, existing.conf untouched, sub still mounted');
    t.ok(isMounted(join(etc, 'sub')));
  });

  await t.test('absolute target whose parent folder is missing: rejected, naming the path', async (t) => {
    const target = join(d.dir, 'no-such-parent', 'x.conf');
    const s = await te.run({ id: 'noparent', command: ['true'], secretsDir: web, absoluteMounts: [{ source: 'pw', target }] });
    t.equal(s.state, 'rejected');
    t.equal(s.err, `invalid mount target "${target}": parent folder "${join(d.dir, 'no-such-parent')}" does not exist`);
    t.notOk(existsSync(join(d.dir, 'no-such-parent')), 'nothing created on the host');
  });

  await t.test('targets below /run/secrets are checked inside the namespace', async (t) => {
    const ok = await te.run({
      id: 'inner',
      command: ['cat', '/run/secrets/pw'],
      user: '1000',
      secretsDir: web,
      absoluteMounts: [{ source: 'pw', target: '/run/secrets/pw' }],
    });
    t.equal(ok.state, 'complete', String(ok.err));
    t.same(te.ex.output('inner')!.stdout, SECRET);
    const bad = await te.run({ id: 'inner-bad', command: ['true'], secretsDir: web, absoluteMounts: [{ source: 'pw', target: '/run/secrets/sub/x' }] });
    t.equal(bad.state, 'failed', 'found by the launcher, after starting');
    t.equal(bad.err, 'invalid mount target "/run/secrets/sub/x": parent folder "/run/secrets/sub" does not exist');
    t.same(te.states('inner-bad'), ['preparing', 'ready', 'starting', 'failed']);
    t.equal(hostRunSecrets(), before);
  });

  await t.test('without relative targets /run/secrets is not bound; without secrets the task still runs', async (t) => {
    const s = await te.run({
      id: 'abs-only',
      command: ['sh', '-c', 'test ! -e /run/secrets/pw && cat "$0"', join(etc, 'new.conf')],
      secretsDir: web,
      secretMounts: [],
      absoluteMounts: [{ source: 'pw', target: join(etc, 'new.conf') }],
    });
    t.equal(s.state, 'complete', String(s.err));
    t.same(te.ex.output('abs-only')!.stdout, SECRET);
    const none = await te.run({ id: 'plain', command: ['cat', '/proc/self/mountinfo'] });
    t.equal(none.state, 'complete');
    t.notOk(mountsOf(te.ex.output('plain')!.stdout.toString()).some((m) => m.fstype === 'fuse.runsecrets'), 'no secrets mount at all');
    const bad = await te.run({ id: 'plain-bad', command: ['true'], absoluteMounts: [{ source: 'pw', target: '/x' }] });
    t.equal(bad.state, 'rejected');
    t.equal(bad.err, 'a task with secrets needs its secrets folder (secretsDir)');
  });

  await t.test('a running task: isolation, fds, exec', async (t) => {
    // This process holds /dev/fuse open like the agent does: the task must not get it.
    const fuseFd = openSync('/dev/fuse', 'r+');
    t.teardown(() => closeSync(fuseFd));
    const running = await te.ex.start({ id: 'long', command: ['sleep', '1000'], user: '1000:1000', secretsDir: web, stopGracePeriodMs: 10_000 });
    t.equal(running.state, 'running');
    const pid = running.pid!;

    t.test('it is the real task process, in its own mount namespace, holding only fds 0-2 and no /dev/fuse', async (t) => {
      t.match(readlinkSync(`/proc/${pid}/exe`), /\/sleep$/);
      t.not(readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync('/proc/self/ns/mnt'));
      const fds = readdirSync(`/proc/${pid}/fd`).sort();
      t.same(fds, ['0', '1', '2']);
      for (const fd of fds) t.notMatch(readlinkSync(`/proc/${pid}/fd/${fd}`), /fuse/);
      t.equal(readlinkSync(`/proc/${pid}/fd/0`), '/dev/null');
      const st = readFileSync(`/proc/${pid}/status`, 'utf8');
      t.match(st, /\nUid:\t1000\t1000\t1000\t1000\n/);
      t.match(st, /\nGroups:\s*\n/, 'no supplementary groups');
    });

    t.test('exec runs inside the namespace as the task user', async (t) => {
      const r = await te.ex.exec('long', ['sh', '-c', 'id -u; cat /run/secrets/pw']);
      t.equal(r.exitCode, 0, r.stderr.toString());
      t.same(r.stdout, Buffer.concat([Buffer.from('1000\n'), SECRET]));
      const root = await te.ex.exec('long', ['id', '-u'], { user: '0' });
      t.equal(root.stdout.toString(), '0\n');
      const ro = await te.ex.exec('long', ['sh', '-c', 'echo x > /run/secrets/new']);
      t.not(ro.exitCode, 0, 'the secrets folder is read-only');
    });

    t.test("it sees only its own folder; the whole secrets mount and other tasks' folders are not in its namespace", async (t) => {
      const ls = await te.ex.exec('long', ['ls', '-A', '/run/secrets']);
      t.equal(ls.stdout.toString(), 'pw\n');
      const info = await te.ex.exec('long', ['cat', '/proc/self/mountinfo']);
      const mounts = mountsOf(info.stdout.toString());
      t.notOk(mounts.some((m) => m.path === d.mount), 'the agent mount is not mounted in the task');
      // fuse and fuse.* only: fusectl (/sys/fs/fuse/connections, which the agent mounts if missing) is no FUSE mount.
      t.same(mounts.filter((m) => m.fstype === 'fuse' || m.fstype.startsWith('fuse.')).map((m) => m.path), ['/run/secrets'], 'only its own folder, at /run/secrets');
      const other = await te.ex.exec('long', ['ls', join(d.mount, 'other')], { user: '0' });
      t.not(other.exitCode, 0, 'even root in the task cannot reach another task folder by path');
      t.equal(hostRunSecrets(), before, "the host's /run/secrets is unchanged");
    });

    await t.test('exec on an unknown or stopped task is refused', async (t) => {
      await t.rejects(te.ex.exec('nope', ['true']), /no such task: nope/);
      await t.rejects(te.ex.exec('read', ['true']), /task read is not running \(state complete\)/);
    });

    await t.test('stop: SIGTERM ends a plain process; state shutdown', async (t) => {
      const s = await te.ex.stop('long');
      t.equal(s.state, 'shutdown');
      t.equal(s.exitCode, 143, 'killed by SIGTERM');
      t.notOk(existsSync(`/proc/${pid}`));
    });
  });

  await t.test('stop: SIGTERM honoured by a task that handles it', async (t) => {
    const started = await te.ex.start({
      id: 'term',
      command: ['sh', '-c', 'trap "echo bye; exit 0" TERM; echo ready; while :; do sleep 0.05; done'],
      secretsDir: web,
    });
    t.equal(started.state, 'running', String(started.err));
    await te.waitOutput('term', 'ready');
    const s = await te.ex.stop('term');
    t.equal(s.state, 'shutdown');
    t.equal(s.exitCode, 0, 'its own exit, within the (10 s default) grace period');
    t.match(te.ex.output('term')!.stdout.toString(), /bye/);
    t.same(te.states('term'), ['preparing', 'ready', 'starting', 'running', 'shutdown']);
  });

  await t.test('stop: a task ignoring SIGTERM is SIGKILLed after the grace period, with what it started', async (t) => {
    const r = await te.ex.start({
      id: 'stubborn',
      command: ['sh', '-c', 'trap "" TERM; sleep 1000 & echo ready $!; while :; do sleep 0.05; done'],
      secretsDir: web,
      stopGracePeriodMs: 200,
    });
    t.equal(r.state, 'running', String(r.err));
    await te.waitOutput('stubborn', 'ready');
    const child = hostPid(r.pid!, Number(/ready (\d+)/.exec(te.ex.output('stubborn')!.stdout.toString())![1]));
    const s = await te.ex.stop('stubborn');
    t.equal(s.state, 'shutdown');
    t.equal(s.exitCode, 137, 'SIGKILL');
    t.notOk(existsSync(`/proc/${r.pid}`), 'the task is gone when stop resolves');
    await waitFor('the background child to be gone', () => !existsSync(`/proc/${child}`) || readFileSync(`/proc/${child}/stat`, 'utf8').split(' ')[2] === 'Z');
  });

  // As Docker's, our tasks have a PID namespace: when the main process ends, its init (the launcher) exits and the
  // kernel kills the rest; the agent also kills the group, the session, and whatever lives in the mount namespace.
  const gone = (pid: number): boolean => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  await t.test('a task that ends takes what it started with it (background job, setsid daemon)', async (t) => {
    for (const how of ['stop', 'exit'] as const) {
      const id = `leaver-${how}`;
      const r = await te.ex.start({
        id,
        command: ['sh', '-c', `sleep 1000 & echo bg $!; setsid sleep 1001 & echo daemon $!; ${how === 'stop' ? 'exec sleep 1002' : 'sleep 0.5; exit 0'}`],
        secretsDir: web,
      });
      t.equal(r.state, 'running', String(r.err));
      await te.waitOutput(id, 'daemon');
      const out = te.ex.output(id)!.stdout.toString();
      const bg = hostPid(r.pid!, Number(/bg (\d+)/.exec(out)![1]));
      const daemon = hostPid(r.pid!, Number(/daemon (\d+)/.exec(out)![1]));
      await waitFor('the daemon in its own session', () => {
        const f = readFileSync(`/proc/${daemon}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return Number(f[3]) === daemon; // session id = its own pid: setsid ran
      });
      t.ok(!gone(bg) && !gone(daemon), `${how}: both running while the task runs`);
      const s = how === 'stop' ? await te.ex.stop(id) : await waitFor(`${id} to finish`, () => (te.states(id).includes('complete') ? true : null), { timeoutMs: 10_000 });
      if (how === 'stop') t.equal((s as { state: string }).state, 'shutdown');
      await waitFor(`${how}: the background job and the daemon gone`, () => gone(bg) && gone(daemon), { timeoutMs: 5_000 });
      t.pass(`${how}: the background job (same group) and the setsid daemon (same mount namespace) are gone`);
    }
  });

  t.equal(hostRunSecrets(), before, "the host's /run/secrets is unchanged at the end");
  t.equal(hostEtc(), etcBefore);
});
