// A real agent process serves a real mount; other processes (this test, setpriv'd readers) read it.
import t from 'tap';
import { writeFileSync, readFileSync, statSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fuseSkip } from '../helpers/env.js';
import { startAgent, tempDirs, forceUnmount, type AgentProc } from '../helpers/agent.js';

/** Runs argv as uid:gid (no supplementary groups); returns exit status and output. */
function as(uid: number, argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv], { encoding: 'utf8', timeout: 10000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('mounted secrets: contents, sizes, owners, modes, isolation, read-only', fuseSkip(), async (t) => {
  const d = tempDirs();
  writeFileSync(join(d.tasksDir, 'db.txt'), 'db-password-1');
  writeFileSync(join(d.tasksDir, 'api.txt'), 'api-key-XYZ-123456');
  writeFileSync(join(d.tasksDir, 'root.txt'), 'root-only');
  writeFileSync(join(d.tasksDir, 'app.conf'), 'listen 8080\n');
  writeFileSync(
    join(d.tasksDir, 'web.yaml'),
    [
      'uid: 1000',
      'gid: 1000',
      'secrets:',
      '  - { file: ./db.txt, target: db_password, uid: 1000, gid: 1000, mode: "0400" }',
      '  - { file: ./api.txt, target: nested/dir/api_key, mode: "0440", gid: 1000 }',
      '  - { file: ./root.txt, target: root_only, mode: "0400" }',
      'configs:',
      '  - file: ./app.conf',
      '    target: app.conf',
    ].join('\n'),
  );
  writeFileSync(
    join(d.tasksDir, 'other.json'),
    JSON.stringify({ uid: 2000, gid: 2000, secrets: [{ file: './db.txt', target: 'theirs', uid: 2000, mode: '0400' }] }),
  );
  let agent: AgentProc | undefined;
  t.teardown(async () => {
    await agent?.stop();
    forceUnmount(d.mount);
    rmSync(d.dir, { recursive: true, force: true });
  });
  agent = await startAgent(d);
  const m = d.mount;

  t.test('contents and sizes are exact', async (t) => {
    t.equal(readFileSync(join(m, 'web/db_password'), 'utf8'), 'db-password-1');
    t.equal(readFileSync(join(m, 'web/nested/dir/api_key'), 'utf8'), 'api-key-XYZ-123456');
    t.equal(readFileSync(join(m, 'web/app.conf'), 'utf8'), 'listen 8080\n');
    t.equal(statSync(join(m, 'web/db_password')).size, 13);
    t.equal(statSync(join(m, 'web/app.conf')).size, 12);
    t.same(readdirSync(m).sort(), ['other', 'web']);
    t.same(readdirSync(join(m, 'web')).sort(), ['app.conf', 'db_password', 'nested', 'root_only']);
  });

  t.test('owners and modes are as declared', async (t) => {
    const st = (p: string) => statSync(join(m, p));
    t.equal(st('').mode & 0o7777, 0o711, 'root: pass through, no listing');
    t.equal(st('web').mode & 0o7777, 0o500, 'task folder 0500');
    t.same([st('web').uid, st('web').gid], [1000, 1000], 'task folder owned by the task user');
    t.same([st('web/db_password').uid, st('web/db_password').gid, st('web/db_password').mode & 0o7777], [1000, 1000, 0o400]);
    t.same([st('web/nested/dir/api_key').uid, st('web/nested/dir/api_key').gid, st('web/nested/dir/api_key').mode & 0o7777], [0, 1000, 0o440]);
    t.same([st('web/app.conf').uid, st('web/app.conf').mode & 0o7777], [0, 0o444], 'defaults 0, 0444');
    t.ok(st('web/app.conf').isFile());
    t.same([st('other').uid, st('other').gid], [2000, 2000]);
  });

  t.test('mount flags', async (t) => {
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === m);
    t.ok(line, 'mounted');
    const opts = line!.split(' ')[5]!.split(',');
    for (const o of ['ro', 'nosuid', 'nodev', 'noexec']) t.ok(opts.includes(o), `mount option ${o}`);
    const superOpts = line!.split(' - ')[1]!;
    t.match(superOpts, /default_permissions/);
    t.match(superOpts, /allow_other/);
  });

  t.test('another uid reads its own files and nothing else', async (t) => {
    const own = as(1000, ['cat', join(m, 'web/db_password')]);
    t.equal(own.status, 0, own.stderr);
    t.equal(own.stdout, 'db-password-1');
    t.equal(as(1000, ['cat', join(m, 'web/app.conf')]).stdout, 'listen 8080\n');
    const rootOnly = as(1000, ['cat', join(m, 'web/root_only')]);
    t.not(rootOnly.status, 0, 'a root-owned 0400 file is refused');
    t.match(rootOnly.stderr, /Permission denied/);
    const listOther = as(1000, ['ls', join(m, 'other')]);
    t.not(listOther.status, 0, "cannot list another task's folder");
    t.match(listOther.stderr, /Permission denied/);
    const readOther = as(1000, ['cat', join(m, 'other/theirs')]);
    t.not(readOther.status, 0, "cannot read another task's file");
    t.match(readOther.stderr, /Permission denied/);
    const listRoot = as(1000, ['ls', m]);
    t.not(listRoot.status, 0, 'cannot list the mount root');
    const nobody = as(65534, ['cat', join(m, 'web/app.conf')]);
    t.not(nobody.status, 0, 'a user of no task reads nothing, not even a 0444 file inside a 0500 folder');
  });

  t.test('every write-like operation fails and changes nothing', async (t) => {
    const f = join(m, 'web/db_password');
    const py = String.raw`
import os, sys, errno
f, d = sys.argv[1], sys.argv[2]
def attempt(name, fn):
    try:
        fn(); print(name, 'OK')
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
def write():
    fd = os.open(f, os.O_WRONLY); os.write(fd, b'x'); os.close(fd)
attempt('write', write)
attempt('append', lambda: os.close(os.open(f, os.O_WRONLY | os.O_APPEND)))
attempt('rdwr', lambda: os.close(os.open(f, os.O_RDWR)))
attempt('create', lambda: os.close(os.open(os.path.join(d, 'new'), os.O_CREAT | os.O_WRONLY, 0o644)))
attempt('mkdir', lambda: os.mkdir(os.path.join(d, 'newdir')))
attempt('unlink', lambda: os.unlink(f))
attempt('rmdir', lambda: os.rmdir(os.path.join(d, 'nested/dir')))
attempt('rename', lambda: os.rename(f, os.path.join(d, 'moved')))
attempt('chmod', lambda: os.chmod(f, 0o777))
attempt('chown', lambda: os.chown(f, 0, 0))
attempt('truncate', lambda: os.truncate(f, 0))
attempt('symlink', lambda: os.symlink('/etc/passwd', os.path.join(d, 'link')))
attempt('link', lambda: os.link(f, os.path.join(d, 'hard')))
attempt('setxattr', lambda: os.setxattr(f, 'user.x', b'1'))
attempt('utimens', lambda: os.utime(f, (0, 0)))
attempt('mknod', lambda: os.mkfifo(os.path.join(d, 'fifo')))
`;
    const before = statSync(f);
    const r = spawnSync('python3', ['-c', py, f, join(m, 'web')], { encoding: 'utf8', timeout: 20000 });
    t.equal(r.status, 0, r.stderr);
    const results = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(' ') as [string, string]));
    t.equal(Object.keys(results).length, 16);
    for (const [op, res] of Object.entries(results)) t.ok(res === 'EROFS' || res === 'EACCES' || res === 'EPERM', `${op}: ${res}`);
    t.equal(readFileSync(f, 'utf8'), 'db-password-1', 'content unchanged');
    const after = statSync(f);
    t.same([after.size, after.mode, after.uid, after.mtimeMs], [before.size, before.mode, before.uid, before.mtimeMs], 'attributes unchanged');
    t.same(readdirSync(join(m, 'web')).sort(), ['app.conf', 'db_password', 'nested', 'root_only'], 'nothing created');
  });
});
