// The agent's control socket and `task exec`'s task resolution, without a manager: resolveTask's rules, the socket's
// line protocol (version, bad requests), stale-socket replacement, refusal to take over a live socket, and the CLI's
// pid-reuse guard (a pid whose start time is not the one the agent saw is refused, never entered).
import t from 'tap';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createLogger } from '../../shared/log.js';
import { resolveTask, type KnownTask } from '../../agent/control/resolve-task.js';
import { startControlServer } from '../../agent/control/control-server.js';
import { processStartTime, type ExecTarget } from '../../agent/control/protocol.js';
import { runsecretsArgv } from '../helpers/env.js';
import { BIN } from '../helpers/agent.js';

const log = createLogger('test-control', 'silent');

/** Leaves a socket file at path the way a killed agent does: bound and listening, then SIGKILL (never unlinked). */
function staleSocket(path: string): ReturnType<typeof spawnSync> {
  const script = "require('node:net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))";
  return spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', script, path]);
}

t.test('resolveTask', async (t) => {
  const tasks: KnownTask[] = [
    { id: 'abc111', serviceName: 'web', slot: 1, wanted: true },
    { id: 'abc222', serviceName: 'web', slot: 2, wanted: true },
    { id: 'xyz333', serviceName: 'web', slot: 3, wanted: false }, // an old task of slot 3, stopping
    { id: 'xyz444', serviceName: 'web', slot: 3, wanted: true }, // its replacement
    { id: 'qqq555', serviceName: 'mon', slot: 0, wanted: true }, // global
  ];
  const r = (q: string): string => resolveTask(q, tasks, 'node1').id;
  t.equal(r('abc111'), 'abc111', 'full ID');
  t.equal(r('abc1'), 'abc111', 'unique prefix');
  t.equal(r('web.2'), 'abc222', 'SERVICE.SLOT');
  t.equal(r('web.3'), 'xyz444', 'SERVICE.SLOT: the wanted task of the slot');
  t.equal(r('web.3.xyz333'), 'xyz333', 'SERVICE.SLOT.ID names even the old one');
  t.equal(r('mon.node1'), 'qqq555', 'SERVICE.NODEID for a global task');
  t.equal(r('mon.node1.qqq555'), 'qqq555', 'SERVICE.NODEID.ID');
  t.throws(() => r('abc'), /task ID prefix "abc" is ambiguous: it matches 2 tasks of this node \(abc111, abc222\)/);
  t.throws(() => r('web.9'), /^No such task: web\.9/);
  t.throws(() => r('mon.node2'), /^No such task: mon\.node2/, "another node's global task");
  t.throws(() => r(''), /a task ID or name is required/);
  const both = tasks.map((x) => (x.id === 'xyz333' ? { ...x, wanted: true } : x));
  t.throws(() => resolveTask('web.3', both, 'node1'), /task name "web\.3" is ambiguous/);
});

function ask(path: string, line: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const c = net.connect(path);
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => (buf += d));
    c.on('end', () => resolve(JSON.parse(buf) as Record<string, unknown>));
    c.on('error', reject);
    c.write(line);
  });
}

t.test('control socket: protocol, stale socket, live socket kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-control-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'agent.sock');
  const target: ExecTarget = { id: 't1', name: 'web.1', pid: process.pid, pidStart: processStartTime(process.pid)!, uid: 1, gid: 2, dir: '/', env: ['A=b'] };
  const execTarget = (q: string): ExecTarget => {
    if (q !== 'web.1') throw new Error(`No such task: ${q}`);
    return target;
  };
  // A stale socket (bound by a process that was killed): replaced.
  staleSocket(path);
  t.ok(existsSync(path), 'a stale socket is there');
  const s = await startControlServer({ path, log, execTarget });
  t.equal(statSync(path).mode & 0o777, 0o600, 'mode 0600');
  t.same(readdirSync(dir), ['agent.sock'], 'made in a private folder and renamed into place: nothing else is left');
  if (process.getuid?.() === 0) {
    // Even in a folder anyone can enter (a custom --agent-socket), another user cannot connect.
    chmodSync(dir, 0o777);
    const probe = spawnSync('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', '--', process.execPath, '-e',
      `require('node:net').connect(${JSON.stringify(path)}).on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) })`], { encoding: 'utf8' });
    t.equal(probe.stdout.trim(), 'EACCES', 'uid 1000 cannot connect');
    chmodSync(dir, 0o700);
  }
  t.same(await ask(path, '{"v":1,"op":"exec-target","task":"web.1"}\n'), { v: 1, ok: true, target }, 'an answer');
  t.same(await ask(path, '{"v":1,"op":"exec-target","task":"x"}\n'), { v: 1, ok: false, error: 'No such task: x' }, "the lookup's error");
  t.match(await ask(path, '{"v":2,"op":"exec-target","task":"web.1"}\n'), { ok: false, error: /unsupported control protocol version 2 \(this agent speaks 1\)/ });
  t.match(await ask(path, 'not json\n'), { ok: false, error: /not a JSON line/ });
  t.match(await ask(path, '{"v":1,"op":"shell"}\n'), { ok: false, error: /unknown request "shell"/ });
  t.match(await ask(path, 'x'.repeat(70_000)), { ok: false, error: 'request too long' }, 'a request line over 64 KiB');
  // A second agent on the same path refuses to take over a live socket.
  await t.rejects(startControlServer({ path, log, execTarget }), /another agent is serving the control socket/);
  t.ok(existsSync(path), 'the live socket is left alone');
  await s.close();
  t.notOk(existsSync(path), 'removed on close');
});

t.test('task exec: a reused pid is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-control-'));
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => {
    sleeper.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const pid = sleeper.pid!;
  const start = processStartTime(pid)!;
  t.ok(start > 0, `start time of ${pid}: ${start}`);
  const path = join(dir, 'agent.sock');
  // The agent saw the task's process with another start time: the pid now names some other process.
  const s = await startControlServer({ path, log, execTarget: () => ({ id: 't1', name: 'web.1', pid, pidStart: start - 1, uid: 0, gid: 0, dir: '/', env: ['PATH=/usr/bin:/bin'] }) });
  t.teardown(() => s.close());
  const [cmd, argv] = runsecretsArgv(BIN, ['task', 'exec', '--agent-socket', path, 'web.1', 'touch', join(dir, 'ran')]);
  // Not spawnSync: the server answering it runs in this process.
  const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const c = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.once('close', (status) => resolve({ status, stderr }));
  });
  t.equal(r.status, 1, `exit 1 (${r.stderr})`);
  t.match(r.stderr, new RegExp(`^Error: task t1 \\(web\\.1\\) is not running \\(its process ${pid} is gone\\)`), 'names the problem');
  t.notOk(existsSync(join(dir, 'ran')), 'nothing ran');
});
