// The OCI runtime's pure parts, no processes: the bundle config against Docker's defaults (docker-swarm-wave2.md
// §1), the container environment (§1.6), users from the container's passwd/group, runc's list and log parsing.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { buildBundleConfig, BIND_OPTIONS, type BundleInput } from '../../agent/runtime/oci/bundle-config.js';
import { containerEnv, replaceOrAppendEnv } from '../../agent/runtime/oci/container-env.js';
import { parseGroup, parsePasswd, resolveUser, ContainerUserError } from '../../agent/runtime/oci/container-user.js';
import { lastRuncError, parseList } from '../../agent/runtime/oci/runc.js';

const CAP_NUMBERS: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7,
  CAP_SETPCAP: 8, CAP_NET_BIND_SERVICE: 10, CAP_NET_RAW: 13, CAP_SYS_CHROOT: 18, CAP_MKNOD: 27, CAP_AUDIT_WRITE: 29,
  CAP_SETFCAP: 31,
};

function mask(caps: string[]): string {
  let m = 0n;
  for (const c of caps) {
    const n = CAP_NUMBERS[c];
    if (n === undefined) throw new Error(`not a Docker default: ${c}`);
    m |= 1n << BigInt(n);
  }
  return m.toString(16).padStart(16, '0');
}

const input: BundleInput = {
  rootfs: 'rootfs',
  args: ['redis-server', '--port', '6379'],
  env: ['PATH=/usr/bin', 'HOSTNAME=abc'],
  cwd: '/data',
  uid: 999,
  gid: 999,
  additionalGids: [4],
  hostname: 'abc',
  binds: [
    { source: '/run/rs/t1', destination: '/run/secrets' },
    { source: '/run/rs/t1/.c', destination: '/etc/nginx/conf.d/site.conf' },
  ],
  cgroupsPath: '/runsecrets/abc',
};

t.test('config.json: Docker defaults, the task process, read-only binds', async (t) => {
  const c = buildBundleConfig(input);
  const caps = c.process.capabilities;
  t.equal(caps.bounding.length, 14, '14 default capabilities');
  t.equal(mask(caps.effective), '00000000a80425fb', 'CapEff as Docker shows it');
  t.same(caps.permitted, caps.bounding);
  t.same(caps.effective, caps.bounding);
  t.same(caps.inheritable, [], 'inheritable empty, as Docker');
  t.same(caps.ambient, [], 'ambient empty');
  t.equal(c.process.noNewPrivileges, true);
  t.equal(c.process.terminal, false);
  t.same(c.process.user, { uid: 999, gid: 999, additionalGids: [4] });
  t.same(c.process.args, input.args);
  t.same(c.process.env, input.env);
  t.equal(c.process.cwd, '/data');
  t.equal(c.hostname, 'abc');
  t.same(c.root, { path: 'rootfs', readonly: false });

  t.same(c.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'pid', 'uts'], 'no network namespace: host networking');
  t.same(c.linux.maskedPaths, [
    '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
    '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
    '/sys/devices/virtual/powercap',
  ]);
  t.same(c.linux.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  t.equal(c.linux.cgroupsPath, '/runsecrets/abc');
  const dev = c.linux.resources.devices;
  t.same(dev[0], { allow: false, access: 'rwm' }, 'deny all first');
  t.same(dev.filter((d) => d.allow).map((d) => `${d.type} ${d.major}:${d.minor}`), ['c 1:5', 'c 1:3', 'c 1:9', 'c 1:8', 'c 5:0', 'c 5:1']);
  t.same(dev.at(-1), { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }, '/dev/fuse denied');

  const byDest = new Map(c.mounts.map((m) => [m.destination, m]));
  t.same(c.mounts.slice(0, 7).map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
  t.same(byDest.get('/proc')!.options, ['nosuid', 'noexec', 'nodev']);
  t.ok(byDest.get('/sys')!.options.includes('ro'), '/sys read-only');
  t.ok(byDest.get('/sys/fs/cgroup')!.options.includes('ro'));
  t.same(byDest.get('/dev/shm')!.options, ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864']);
  t.same(byDest.get('/dev/pts')!.options, ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
  const binds = c.mounts.slice(7);
  t.same(binds.map((m) => [m.destination, m.source, m.type]), [
    ['/run/secrets', '/run/rs/t1', 'bind'],
    ['/etc/nginx/conf.d/site.conf', '/run/rs/t1/.c', 'bind'],
  ], 'binds after the defaults, in the order given');
  for (const b of binds) {
    t.same(b.options, [...BIND_OPTIONS]);
    t.notOk(b.options.includes('rbind'), 'a plain bind: nothing mounted below the source comes along');
    for (const o of ['ro', 'nosuid', 'nodev', 'noexec']) t.ok(b.options.includes(o), `${b.destination}: ${o}`);
  }
  t.same(buildBundleConfig({ ...input, additionalGids: [] }).process.user, { uid: 999, gid: 999 }, 'no additionalGids when none');
  const sc = c.linux.seccomp;
  t.equal(sc.defaultAction, 'SCMP_ACT_ALLOW', 'a deny list');
  const denied = sc.syscalls.filter((r) => !r.args).flatMap((r) => r.names);
  for (const n of ['unshare', 'setns', 'mount', 'umount2', 'keyctl', 'add_key', 'request_key', 'bpf', 'userfaultfd', 'io_uring_setup', 'perf_event_open', 'open_by_handle_at']) {
    t.ok(denied.includes(n), `${n} refused`);
  }
  t.same(sc.syscalls.find((r) => r.names.includes('clone3')), { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }, 'clone3: ENOSYS so libc falls back to clone');
  const cloneRules = sc.syscalls.filter((r) => r.names.includes('clone'));
  t.equal(cloneRules.length, 7, 'one clone rule per namespace flag');
  t.ok(cloneRules.some((r) => r.args?.[0]?.value === 0x10000000 && r.args[0].valueTwo === 0x10000000 && r.args[0].op === 'SCMP_CMP_MASKED_EQ'), 'CLONE_NEWUSER refused');
  t.notOk(sc.syscalls.some((r) => r.names.includes('clone') && !r.args), 'a plain clone (fork) is allowed');
  t.same(buildBundleConfig({ ...input, arch: 'x64' }).linux.seccomp.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  t.same(buildBundleConfig({ ...input, arch: 'riscv64' }).linux.seccomp.architectures, [], 'the native one elsewhere');
  const json = JSON.parse(JSON.stringify(c)) as unknown;
  t.same(json, c, 'plain data, serialised as is');
});

t.test('environment: PATH and HOSTNAME first, replaced in place, bare keys delete', async (t) => {
  t.same(containerEnv([], 'h1', false), ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=h1']);
  t.same(containerEnv(['A=1', 'PATH=/bin', 'HOSTNAME=mine'], 'h1', false), ['PATH=/bin', 'HOSTNAME=mine', 'A=1']);
  t.same(containerEnv(['A=1'], 'h1', true).slice(2), ['TERM=xterm', 'A=1'], 'TERM=xterm with a tty');
  t.same(replaceOrAppendEnv(['A=1', 'B=2'], ['A', 'C=3']), ['B=2', 'C=3'], 'a bare key deletes it');
  t.same(replaceOrAppendEnv(['A=1'], ['A', 'A=2']), ['A=2'], 'set again after a delete');
  t.same(containerEnv(['HOME=/x'], 'h', false).at(-1), 'HOME=/x', 'HOME only when given (runc sets it from passwd)');
});

t.test('user: names and ids against the container\'s own passwd and group', async (t) => {
  const passwd = parsePasswd(Buffer.from('root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n# c\nbad:x:y:z\n'));
  const group = parseGroup(Buffer.from('root:x:0:\nuser:x:1000:\nstaff:x:50:user,other\nwheel:x:10:root\n'));
  t.same(resolveUser('', passwd, group), { uid: 0, gid: 0, additionalGids: [10] }, 'root by default, with its groups');
  t.same(resolveUser('user', passwd, group), { uid: 1000, gid: 1000, additionalGids: [50] });
  t.same(resolveUser('1000', passwd, group), { uid: 1000, gid: 1000, additionalGids: [50] });
  t.same(resolveUser('user:staff', passwd, group), { uid: 1000, gid: 50, additionalGids: [] });
  t.same(resolveUser('4242:77', passwd, group), { uid: 4242, gid: 77, additionalGids: [] }, 'numeric ids need no entry');
  t.same(resolveUser('4242', passwd, group), { uid: 4242, gid: 0, additionalGids: [] });
  t.throws(() => resolveUser('nobodyx', passwd, group), new ContainerUserError('unable to find user nobodyx: no matching entries in passwd file'));
  t.throws(() => resolveUser('user:nogroup', passwd, group), new ContainerUserError('unable to find group nogroup: no matching entries in group file'));
  t.same(resolveUser('0', [], []), { uid: 0, gid: 0, additionalGids: [] }, 'an image without /etc/passwd runs as root');
});

t.test('runc list and log', async (t) => {
  t.same(parseList('null\n'), []);
  t.same(parseList(''), []);
  t.same(parseList('[{"ociVersion":"1.0.2","id":"abc","pid":42,"status":"running","bundle":"/b"}]'), [{ id: 'abc', pid: 42, status: 'running' }]);
  t.throws(() => parseList('{"id":1}'), /not a JSON list/);
  const d = mkdtempSync(join(tmpdir(), 'rs-runc-log-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const log = join(d, 'runc.log');
  writeFileSync(log, '{"level":"warning","msg":"w"}\nnot json\n{"level":"error","msg":"runc run failed: unable to start container process: exec: \\"x\\": executable file not found in $PATH"}\n');
  t.equal(await lastRuncError(log), 'unable to start container process: exec: "x": executable file not found in $PATH');
  t.equal(await lastRuncError(join(d, 'none')), null);
});
