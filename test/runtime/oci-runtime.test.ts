// The OCI runtime against real runc containers from the offline-built busybox images served by Debian's
// docker-registry on 127.0.0.1. A plain folder stands in for the task's folder on the FUSE mount (the worker wires
// FUSE). Checks what a container gets (its own PIDs, Docker's capabilities, no_new_privs, read-only secrets it
// cannot remount or unmount, configs created in its own layer), that the writable layer keeps no secret, stop with
// grace then kill, exit codes, output events, Docker's pull error, exec, and the cleanup of a previous life.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { OciRuntime } from '../../agent/runtime/oci/index.js';
import type { RuntimeTaskSpec } from '../../agent/runtime/runtime.js';
import type { TaskStatus } from '../../agent/executor/spec.js';
import { containerIdOf } from '../../shared/container-id.js';
import { readMounts } from '../../agent/executor/mount-plan.js';
import { busyboxLayout, IMAGE_TOOLS, pushImage, startRegistry, type TestRegistry } from '../helpers/images.js';
import { toolSkipReason } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';
import { createLogger } from '../../shared/log.js';

const log = createLogger('oci-runtime', 'error');

const reason = process.getuid?.() !== 0 ? 'needs root (runc, overlay mounts)' : toolSkipReason(['runc', ...IMAGE_TOOLS]);
if (reason) process.stderr.write(`# SKIP OCI runtime tests: ${reason}\n`);
const skip = reason ? { skip: reason } : {};

const SECRET = Buffer.from('s3cret-bytes-4f1c9a');
const CONFIG = Buffer.from('server { listen 8080; }\n');
let seq = 0;

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A task folder as the FUSE mount shows it: secret x at the top (seen at /run/secrets/x), a config beside it. */
function secretsFolder(): string {
  const d = tempDir('rs-oci-secrets-');
  writeFileSync(join(d, 'x'), SECRET, { mode: 0o444 });
  writeFileSync(join(d, '.config-site'), CONFIG, { mode: 0o444 });
  return d;
}

function runtime(stateDir: string): OciRuntime {
  const rt = new OciRuntime({ stateDir, log });
  t.teardown(async () => {
    await rt.stopAll();
    for (const s of rt.list()) await rt.remove(s.id);
  });
  return rt;
}

function spec(image: string, over: Partial<RuntimeTaskSpec>): RuntimeTaskSpec {
  const id = `ocitask${process.pid}x${++seq}`;
  return { id, name: `svc.1.${id}`, image, ...over };
}

/** Collects a task's output and states. */
function watch(rt: OciRuntime, id: string): { out: () => string; err: () => string; states: TaskStatus[] } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const states: TaskStatus[] = [];
  rt.on('output', (o) => o.id === id && (o.stream === 'stdout' ? out : err).push(o.chunk));
  rt.on('status', (s) => s.id === id && states.push(s));
  return { out: () => Buffer.concat(out).toString('utf8'), err: () => Buffer.concat(err).toString('utf8'), states };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function runHost(cmd: { file: string; args: string[]; env?: Record<string, string> }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd.file, cmd.args, { env: cmd.env ?? {}, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    c.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    c.once('error', reject);
    c.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

t.test('OCI runtime', skip, async (t) => {
  await busyboxLayout();
  const reg: TestRegistry = await startRegistry();
  t.teardown(() => reg.close());
  await pushImage(reg, '1', 'busybox:1');
  await pushImage(reg, 'nginx', 'busybox:nginx');
  const image = `${reg.host}/busybox:1`;
  const stateDir = tempDir('rs-oci-state-');

  t.test('a container: own PIDs, Docker caps, no_new_privs, read-only secrets, a config in its own layer', async (t) => {
    const rt = runtime(stateDir);
    const hostHadConfD = existsSync('/etc/nginx/conf.d');
    const script = [
      'cat /run/secrets/x; echo',
      'ps -o pid,comm',
      'grep -E "^(CapEff|CapBnd|CapInh|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status',
      'unshare -U true 2>/dev/null; echo "userns=$?"',
      'echo sub $(echo forked)',
      'echo "host=$(hostname) HOSTNAME=$HOSTNAME HOME=$HOME"',
      'cat /etc/nginx/conf.d/site.conf',
      'echo "abs=$(cat /etc/app/secret.txt)"',
      'mount -o remount,rw /run/secrets 2>/dev/null; echo "remount=$?"',
      'umount /run/secrets 2>/dev/null; echo "umount=$?"',
      '(echo hello > /run/secrets/new) 2>/dev/null; echo "write=$?"',
      'echo to-stderr >&2',
    ].join('\n');
    const s = spec(image, {
      command: ['sh', '-c', script],
      secretsDir: secretsFolder(),
      configMounts: [{ source: '.config-site', target: 'etc/nginx/conf.d/site.conf' }],
      absoluteMounts: [{ source: 'x', target: '/etc/app/secret.txt' }],
    });
    const w = watch(rt, s.id);
    const st = await rt.start(s);
    t.ok(st.state === 'running' || st.state === 'complete', `started: ${JSON.stringify(st)}`);
    const end = await rt.wait(s.id);
    t.equal(end.state, 'complete', `complete: ${JSON.stringify(end)} stderr=${w.err()}`);
    t.equal(end.exitCode, 0);
    t.same(w.states.map((x) => x.state), ['preparing', 'ready', 'starting', 'running', 'complete'], 'states as the process runtime reports them');
    const out = w.out();
    t.match(out, new RegExp(`^${SECRET.toString()}\\n`), 'reads /run/secrets/x');
    const psLines = out.split('\n').filter((l) => /^\s*\d+\s+\S+$/.test(l));
    t.same(psLines.map((l) => l.trim().split(/\s+/)[1]).sort(), ['ps', 'sh'], `ps shows only its own processes: ${psLines.join(' | ')}`);
    t.ok(psLines.some((l) => /^\s*1\s+sh$/.test(l)), 'its shell is PID 1 of its own PID namespace');
    t.match(out, /^CapEff:\s+00000000a80425fb$/m, "Docker's default capability set");
    t.match(out, /^CapBnd:\s+00000000a80425fb$/m);
    t.match(out, /^CapInh:\s+0000000000000000$/m);
    t.match(out, /^CapAmb:\s+0000000000000000$/m);
    t.match(out, /^NoNewPrivs:\s+1$/m);
    t.match(out, /^Seccomp:\s+2$/m, 'a seccomp filter');
    t.match(out, /^userns=[1-9]\d*$/m, 'no new user namespace (to regain capabilities in)');
    t.match(out, /^sub forked$/m, 'plain clone (fork) still works');
    const short = containerIdOf(s.id).slice(0, 12);
    t.match(out, new RegExp(`^host=${short} HOSTNAME=${short} HOME=/root$`, 'm'), 'hostname = the container ID\'s first 12 chars; HOME from its passwd');
    t.match(out, /^server \{ listen 8080; \}$/m, 'the config at /etc/nginx/conf.d/site.conf');
    t.match(out, new RegExp(`^abs=${SECRET.toString()}$`, 'm'), 'an absolute target, in a folder the image lacks');
    t.match(out, /^remount=[1-9]\d*$/m, 'a root task cannot remount /run/secrets read-write');
    t.match(out, /^umount=[1-9]\d*$/m, 'nor unmount it');
    t.match(out, /^write=[1-9]\d*$/m, 'nor write into it');
    t.equal(w.err(), 'to-stderr\n', 'stderr comes as its own stream');
    if (!hostHadConfD) t.notOk(existsSync('/etc/nginx/conf.d'), 'no /etc/nginx/conf.d on the host');

    // The writable layer: the mount points only, empty; no secret file, no secret bytes.
    const upper = join(stateDir, 'containers', containerIdOf(s.id), 'upper');
    const files = filesUnder(upper);
    t.ok(files.includes(join(upper, 'etc/nginx/conf.d/site.conf')), "the config's mount point was made in the container's layer");
    t.ok(lstatSync(join(upper, 'run/secrets')).isDirectory(), '/run/secrets made in the layer');
    t.same(readdirSync(join(upper, 'run/secrets')), [], 'and empty');
    for (const f of files) {
      const st = lstatSync(f);
      if (st.isFile()) t.notOk(readFileSync(f).includes(SECRET) || readFileSync(f).includes(CONFIG), `no secret bytes in ${f}`);
    }
    t.equal(lstatSync(join(upper, 'etc/nginx/conf.d/site.conf')).size, 0, 'the mount point is an empty file');
    t.equal(lstatSync(join(upper, 'etc/app/secret.txt')).size, 0, "the absolute target's mount point too");
    t.notOk(existsSync('/etc/app/secret.txt'), 'nothing on the host');

    const info = rt.inspect(s.id)!;
    t.equal(info.containerId, containerIdOf(s.id));
    t.equal(info.hostname, short);
    t.equal(info.path, 'sh');
    t.match(info.imageDigest, /^sha256:[a-f0-9]{64}$/);
    t.equal(info.labels['org.opencontainers.image.title'], 'busybox-fixture', 'image labels');
    t.same(info.mounts.map((m) => m.destination), ['/run/secrets', '/etc/nginx/conf.d/site.conf', '/etc/app/secret.txt']);
    t.ok(info.mounts.every((m) => !m.rw));

    await rt.remove(s.id);
    t.notOk(existsSync(join(stateDir, 'containers', containerIdOf(s.id))), 'remove deletes the writable layer');
    t.notOk((await readMounts()).some((m) => m.path.startsWith(stateDir)), 'and unmounts the root');
    t.equal(rt.status(s.id), undefined);
  });

  t.test('a config in an image that has the folder; user 1000 from the image passwd', async (t) => {
    const rt = runtime(stateDir);
    const s = spec(`${reg.host}/busybox:nginx`, {
      command: ['sh', '-c', 'cat /etc/nginx/conf.d/site.conf; id -u; id -g; echo "HOME=$HOME"; pwd; echo hi > /tmp/new'],
      user: 'user',
      dir: '/home/user/work',
      secretsDir: secretsFolder(),
      configMounts: [{ source: '.config-site', target: 'etc/nginx/conf.d/site.conf' }],
    });
    const w = watch(rt, s.id);
    await rt.start(s);
    const end = await rt.wait(s.id);
    t.equal(end.state, 'complete', w.err());
    t.equal(w.out(), `${CONFIG.toString()}1000\n1000\nHOME=/home/user\n/home/user/work\n`);
    const upper = join(stateDir, 'containers', containerIdOf(s.id), 'upper');
    t.equal(readFileSync(join(upper, 'tmp/new'), 'utf8'), 'hi\n', "the task's writes land in its own layer");
    const img = (await rt.store.get(rt.inspect(s.id)!.imageDigest!))!;
    t.notOk(existsSync(join(img.rootfs, 'home/user/work')), "the image's tree is untouched");
    t.notOk(existsSync(join(img.rootfs, 'tmp/new')));
    t.equal(lstatSync(join(upper, 'home/user/work')).uid, 0, 'a missing working folder is made root-owned, as Docker');
    t.same(readdirSync(join(img.rootfs, 'etc/nginx/conf.d')), [], 'the config mount point was made in the layer, not in the image');
    await rt.remove(s.id);
  });

  t.test('exit code, Docker\'s text; a program that is not there', async (t) => {
    const rt = runtime(stateDir);
    const s = spec(image, { command: ['sh', '-c', 'echo bye; exit 7'] });
    const w = watch(rt, s.id);
    await rt.start(s);
    const end = await rt.wait(s.id);
    t.equal(end.state, 'failed');
    t.equal(end.exitCode, 7);
    t.equal(end.err, 'task: non-zero exit (7)');
    t.equal(w.out(), 'bye\n');

    const m = spec(image, { command: ['no-such-program'] });
    const wm = watch(rt, m.id);
    const st = await rt.start(m);
    t.equal(st.state, 'failed');
    t.match(st.err, /^starting container failed: .*exec: "no-such-program": executable file not found in \$PATH$/);
    t.equal(st.exitCode, 127);
    t.equal(wm.err(), '', "runc's complaint is not the task's output");
    await rt.remove(s.id);
    await rt.remove(m.id);
  });

  t.test('stop: the stop signal, the grace period, then SIGKILL', async (t) => {
    const rt = runtime(stateDir);
    // PID 1 with a TERM trap exits with 3 on SIGTERM.
    const polite = spec(image, { command: ['sh', '-c', 'trap "exit 3" TERM; echo up; while :; do sleep 0.05; done'] });
    const wp = watch(rt, polite.id);
    t.equal((await rt.start(polite)).state, 'running');
    await waitFor('output', () => wp.out() === 'up\n');
    const p = await rt.stop(polite.id);
    t.equal(p.state, 'shutdown');
    t.equal(p.exitCode, 3, 'SIGTERM first: the trap ran');

    // PID 1 without a handler ignores SIGTERM (the kernel protects a namespace's init): killed after the grace.
    const stubborn = spec(image, { command: ['sh', '-c', 'echo up; while :; do sleep 0.05; done'], stopGracePeriodMs: 300 });
    const ws = watch(rt, stubborn.id);
    await rt.start(stubborn);
    await waitFor('output', () => ws.out() === 'up\n');
    const k = await rt.stop(stubborn.id);
    t.equal(k.state, 'shutdown');
    t.equal(k.exitCode, 137, 'SIGKILL after the grace period');

    // Stopped while it is still being prepared or created: shutdown, and nothing left once removed.
    const early = spec(image, { command: ['sleep', '1000'], stopGracePeriodMs: 100 });
    const starting = rt.start(early);
    const e = await rt.stop(early.id);
    t.equal(e.state, 'shutdown');
    t.equal((await starting).state, 'shutdown');
    await rt.remove(early.id);
    t.notOk(existsSync(join(stateDir, 'containers', containerIdOf(early.id))));
    await rt.remove(polite.id);
    await rt.remove(stubborn.id);
  });

  t.test('signal: to the running container\'s process 1 (the signal:SIGNAME secret-update mode)', async (t) => {
    const rt = runtime(stateDir);
    const s = spec(image, { command: ['sh', '-c', 'trap "echo hup" HUP; echo up; while :; do sleep 0.05; done'] });
    const w = watch(rt, s.id);
    t.equal((await rt.start(s)).state, 'running');
    await waitFor('output', () => w.out() === 'up\n');
    await rt.signal(s.id, 'SIGHUP');
    await waitFor('the trap ran', () => w.out() === 'up\nhup\n');
    t.equal(rt.status(s.id)?.state, 'running', 'still running');
    await rt.stop(s.id);
    await t.rejects(rt.signal(s.id, 'SIGHUP'), /is not running/, 'a stopped task is not signalled');
    await rt.remove(s.id);
  });

  t.test('exec: runc exec in the running container, as the task user or another', async (t) => {
    const rt = runtime(stateDir);
    const folder = secretsFolder();
    const s = spec(image, { command: ['sleep', '1000'], secretsDir: folder, stopGracePeriodMs: 100 });
    await rt.start(s);
    const r = await runHost(rt.execCommand(s.id, { argv: ['cat', '/run/secrets/x'], tty: false }));
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, SECRET.toString());
    // The folder is bound, not copied: what the agent grants or revokes later shows at once.
    writeFileSync(join(folder, 'y'), 'granted later');
    rmSync(join(folder, 'x'));
    const later = await runHost(rt.execCommand(s.id, { argv: ['sh', '-c', 'cat /run/secrets/y; echo; cat /run/secrets/x'], tty: false }));
    t.equal(later.stdout, 'granted later\n');
    t.match(later.stderr, /No such file or directory/, 'a revoked secret is gone');
    const u = await runHost(rt.execCommand(s.id, { argv: ['sh', '-c', 'id -u; echo $FOO; pwd; grep NoNewPrivs /proc/self/status'], user: '1000:1000', env: ['FOO=bar'], workingDir: '/tmp', tty: false }));
    t.equal(u.stdout, '1000\nbar\n/tmp\nNoNewPrivs:\t1\n', u.stderr);
    const ps = await runHost(rt.execCommand(s.id, { argv: ['ps', '-o', 'pid,comm'], tty: false }));
    t.match(ps.stdout, /^\s*1\s+sleep$/m, 'exec joins the task\'s PID namespace');
    await rt.stop(s.id);
    t.throws(() => rt.execCommand(s.id, { argv: ['true'], tty: false }), /is not running/);
    await rt.remove(s.id);
  });

  t.test('a missing image, an unknown user: rejected with Docker\'s texts', async (t) => {
    const rt = runtime(stateDir);
    const s = spec(`${reg.host}/busybox:nope`, { command: ['true'] });
    const st = await rt.start(s);
    t.equal(st.state, 'rejected');
    t.equal(st.err, `No such image: ${reg.host}/busybox:nope`);
    t.notOk(existsSync(join(stateDir, 'containers', containerIdOf(s.id))), 'nothing prepared');
    const u = spec(image, { command: ['true'], user: 'nobodyx' });
    const su = await rt.start(u);
    t.equal(su.state, 'rejected');
    t.equal(su.err, 'unable to find user nobodyx: no matching entries in passwd file');
    t.notOk(existsSync(join(stateDir, 'containers', containerIdOf(u.id))), 'its root is unmounted and removed');
  });

  t.test('a target that leads out of the root through a symlink is refused', async (t) => {
    const rt = runtime(stateDir);
    // /bin/sh is a symlink in the image: a target through /bin/sh/... is not a folder.
    const s = spec(image, { command: ['true'], secretsDir: secretsFolder(), absoluteMounts: [{ source: 'x', target: '/bin/sh/x' }] });
    const st = await rt.start(s);
    t.equal(st.state, 'rejected');
    t.equal(st.err, 'invalid mount target "/bin/sh/x": "/bin/busybox" is not a folder');
  });

  t.test('image gc keeps the images of the tasks the runtime has', async (t) => {
    const rt = runtime(tempDir('rs-oci-gc-'));
    const keep = spec(image, { command: ['sleep', '1000'], stopGracePeriodMs: 100 });
    const gone = spec(`${reg.host}/busybox:nginx`, { command: ['true'] });
    await rt.start(keep);
    await rt.start(gone);
    await rt.wait(gone.id);
    const digestKept = rt.inspect(keep.id)!.imageDigest!;
    const digestGone = rt.inspect(gone.id)!.imageDigest!;
    t.same((await rt.gcImages()!).removedImages, [], 'both tasks still known: nothing collected');
    await rt.remove(gone.id);
    const r = await rt.gcImages()!;
    t.same(r.removedImages, [digestGone]);
    t.same(await rt.store.list(), [digestKept]);
    await rt.stop(keep.id);
  });

  t.test('containers of a previous life are killed and deleted before anything runs', async (t) => {
    const shared = tempDir('rs-oci-life-');
    const first = new OciRuntime({ stateDir: shared, log });
    const s = spec(image, { command: ['sleep', '1000'], secretsDir: secretsFolder() });
    t.equal((await first.start(s)).state, 'running');
    const pid = first.inspect(s.id)!.pid!;
    const cid = containerIdOf(s.id);
    // A new life on the same state dir (the first one "died": its records are gone with it).
    const second = new OciRuntime({ stateDir: shared, log });
    const found = await second.recover();
    t.same(found, [cid]);
    const end = await first.wait(s.id);
    t.equal(end.exitCode, 137, 'the old container was killed');
    t.notOk(existsSync(`/proc/${pid}`), 'its process is gone');
    t.notOk(existsSync(join(shared, 'containers', cid)), 'its layer is gone');
    t.notOk((await readMounts()).some((m) => m.path.startsWith(shared)), 'its root is unmounted');
    t.same(readdirSync(join(shared, 'runc')), [], "runc's root holds no container");
  });
});
