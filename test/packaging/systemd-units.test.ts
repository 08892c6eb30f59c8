// The systemd units in packaging/systemd: `systemd-analyze verify` accepts them without a single warning (it runs
// without systemd as PID 1), the agent's unit has no option that would put its FUSE mount in a private mount
// namespace or close /dev/fuse, and both daemons send READY=1 to $NOTIFY_SOCKET once they serve (a real manager
// and a real standalone agent, a stand-in notification socket in test/fixtures/notify-socket.py).
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REPO_ROOT, childEnv, runCli, waitFor } from '../helpers/manager.js';
import { fuseSkip } from '../helpers/env.js';
import { forceUnmount, isMounted } from '../helpers/agent.js';

const UNITS = join(REPO_ROOT, 'packaging', 'systemd');
const UNIT_FILES = ['runsecrets-manager.service', 'runsecrets-agent.service', 'runsecrets-secrets.target'];
const haveAnalyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;
const analyzeSkip = haveAnalyze ? {} : { skip: 'needs systemd-analyze (Debian package systemd; make setup installs it)' };

/** Units copied to a temp dir with ExecStart's bare `runsecrets` pointed at this checkout's binary. */
function stagedUnits(edit: (name: string, text: string) => string = (_n, s) => s): string {
  const dir = mkdtempSync(join(tmpdir(), 'rs-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of UNIT_FILES) {
    const text = readFileSync(join(UNITS, f), 'utf8').replace(/^ExecStart=runsecrets /m, `ExecStart=${BIN} `);
    writeFileSync(join(dir, f), edit(f, text));
  }
  return dir;
}

function verify(dir: string): { status: number | null; out: string } {
  const r = spawnSync('systemd-analyze', ['verify', ...UNIT_FILES.map((f) => join(dir, f))], { encoding: 'utf8', cwd: dir });
  // Warnings about the host's own units (not ours) are not ours to fix; keep only lines naming our files.
  const out = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('runsecrets')).join('\n');
  return { status: r.status, out };
}

/** Key=value lines of a unit file, comments dropped. */
function unitKeys(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#') || l.startsWith('[')) continue;
    const i = l.indexOf('=');
    m.set(l.slice(0, i), l.slice(i + 1));
  }
  return m;
}

t.test('systemd-analyze verify passes on the units, with no warning', analyzeSkip, async (t) => {
  t.same(readdirSync(UNITS).sort(), [...UNIT_FILES].sort(), 'the packaged units');
  const r = verify(stagedUnits());
  t.equal(r.out, '', 'no warning or error about our units');
  t.equal(r.status, 0, 'exit 0');
});

t.test('the verification sees a broken unit (the check can fail)', analyzeSkip, async (t) => {
  const typo = verify(stagedUnits((n, s) => (n === 'runsecrets-agent.service' ? s.replace('KillMode=mixed', 'KillMod=mixed') : s)));
  t.match(typo.out, /Unknown key name 'KillMod'|Unknown key 'KillMod'/, 'an unknown key is reported');
  const badExec = verify(stagedUnits((n, s) => (n === 'runsecrets-manager.service' ? s.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/runsecrets') : s)));
  t.not(badExec.status, 0, 'a missing binary fails verify');
});

t.test("the agent's unit keeps the mount visible to the host and /dev/fuse open", async (t) => {
  const agent = unitKeys(readFileSync(join(UNITS, 'runsecrets-agent.service'), 'utf8'));
  // Each of these gives the service a mount namespace of its own (its FUSE mount would not reach the host) or a
  // device allow-list without /dev/fuse.
  for (const k of ['ProtectSystem', 'ProtectHome', 'PrivateTmp', 'PrivateDevices', 'PrivateMounts', 'ReadWritePaths', 'ReadOnlyPaths',
    'InaccessiblePaths', 'TemporaryFileSystem', 'BindPaths', 'BindReadOnlyPaths', 'ProtectKernelTunables', 'ProtectKernelModules',
    'ProtectKernelLogs', 'ProtectControlGroups', 'ProtectProc', 'ProcSubset', 'ProtectClock', 'DevicePolicy', 'DeviceAllow',
    'RestrictNamespaces', 'DynamicUser', 'MountFlags', 'RootDirectory', 'PrivateUsers']) {
    t.notOk(agent.has(k), `no ${k}`);
  }
  t.equal(agent.get('Type'), 'notify');
  t.equal(agent.get('NotifyAccess'), 'main', "only the agent's pid (tasks share its cgroup)");
  t.equal(agent.get('KillMode'), 'mixed', 'SIGTERM to the agent alone: it stops its tasks itself');
  t.equal(agent.get('Restart'), 'on-failure');
  t.equal(agent.get('Before'), 'runsecrets-secrets.target');
  const manager = unitKeys(readFileSync(join(UNITS, 'runsecrets-manager.service'), 'utf8'));
  t.equal(manager.get('Type'), 'notify');
  t.equal(manager.get('NotifyAccess'), 'all');
  t.equal(manager.get('ProtectSystem'), 'strict', 'the manager is sandboxed fully');
  t.equal(manager.get('Restart'), 'on-failure');
  const target = unitKeys(readFileSync(join(UNITS, 'runsecrets-secrets.target'), 'utf8'));
  t.equal(target.get('After'), 'runsecrets-agent.service');
});

interface NotifySocket {
  path: string;
  lines: string[];
  proc: ChildProcess;
}

/** The stand-in for systemd's notification socket, listening once this resolves. */
async function notifySocket(dir: string): Promise<NotifySocket> {
  const path = join(dir, 'notify.sock');
  const proc = spawn('python3', [join(REPO_ROOT, 'test', 'fixtures', 'notify-socket.py'), path], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => {
    proc.stdin?.end();
    proc.kill();
  });
  const lines: string[] = [];
  let partial = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (c: string) => {
    const parts = (partial + c).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  await waitFor(() => lines.includes('listening') && existsSync(path), 'the notification socket');
  return { path, lines, proc };
}

const havePython = spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0;
const notifySkip = !havePython ? { skip: 'needs python3 (the stand-in notification socket)' } : !haveAnalyze ? { skip: 'needs systemd-notify (Debian package systemd)' } : {};

t.test('manager run sends READY=1 with its pid once its socket serves', notifySkip, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-notify-m-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const init = await runCli(['manager', 'init', '--state-dir', join(dir, 'state')]);
  t.equal(init.code, 0, init.stderr);
  const ns = await notifySocket(dir);
  const socket = join(dir, 'manager.sock');
  const proc = spawn(process.execPath, [BIN, 'manager', 'run', '--state-dir', join(dir, 'state'), '--socket', socket, '--listen', 'none'], {
    env: childEnv({ NOTIFY_SOCKET: ns.path }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logs = '';
  proc.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
  const exited = new Promise((r) => proc.once('close', r));
  t.teardown(async () => {
    proc.kill('SIGTERM');
    await exited;
  });
  const ready = await waitFor(() => ns.lines.find((l) => l.includes('READY=1')), 'READY=1', 20_000);
  t.ok(existsSync(socket), 'the API socket exists when READY=1 arrives');
  t.match(ready, new RegExp(`MAINPID=${proc.pid}\\b`), "the manager's own pid");
  t.match(ready, /STATUS=serving/);
  await waitFor(() => logs.includes('readiness sent to systemd'), 'the log line');
});

t.test('a standalone agent sends READY=1 once its mount is up and the manifests are read', { ...fuseSkip(), ...notifySkip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-notify-a-'));
  chmodSync(dir, 0o755);
  const mount = join(dir, 'mnt');
  const tasks = join(dir, 'tasks');
  mkdirSync(tasks);
  writeFileSync(join(tasks, 'src.txt'), 'not-a-real-secret');
  writeFileSync(join(tasks, 'web.yaml'), 'secrets:\n  - file: ./src.txt\n    target: pw\n');
  t.teardown(() => {
    forceUnmount(mount);
    rmSync(dir, { recursive: true, force: true });
  });
  const ns = await notifySocket(dir);
  const proc = spawn(process.execPath, [BIN, 'agent', 'run', '--standalone', '--tasks-dir', tasks, '--mount', mount], {
    env: childEnv({ NOTIFY_SOCKET: ns.path }),
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const exited = new Promise((r) => proc.once('close', r));
  t.teardown(async () => {
    proc.kill('SIGTERM');
    await exited;
  });
  const ready = await waitFor(() => ns.lines.find((l) => l.includes('READY=1')), 'READY=1', 20_000);
  t.ok(isMounted(mount), 'mounted when READY=1 arrives');
  t.ok(existsSync(join(mount, 'web', 'pw')), "the manifest's file is in place");
  t.match(ready, new RegExp(`MAINPID=${proc.pid}\\b`));
  t.match(ready, new RegExp(`SENDER_PID=${proc.pid}$`), "the kernel vouches for the agent's own pid (NotifyAccess=main holds)");
  t.match(ready, /STATUS=mounted; manifests loaded/);
});
