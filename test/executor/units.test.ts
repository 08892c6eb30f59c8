// The executor's pure parts: spec validation, the launcher's argument protocol, mount planning, output tails.
import t from 'tap';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { TailBuffer, TaskSpecError, parseUser } from '../../agent/executor/index.js';
import { taskArgv, taskEnv, wantsSecretsBind, DEFAULT_PATH } from '../../agent/executor/spec.js';
import { launcherArgs } from '../../agent/executor/launcher.js';
import { planMounts, topSubmounts, mountOf } from '../../agent/executor/mount-plan.js';

t.test('user: numeric uid[:gid] only', async (t) => {
  t.same(parseUser(undefined), { uid: 0, gid: 0 });
  t.same(parseUser('1000:1001'), { uid: 1000, gid: 1001 });
  t.equal(parseUser('4242424').uid, 4242424);
  t.equal(parseUser('4242424').gid, 0, 'unknown uid: gid 0, as Docker');
  t.throws(() => parseUser('bob'), new TaskSpecError('invalid user "bob": only numeric uid[:gid] is supported'));
  t.throws(() => parseUser('1:2:3'), TaskSpecError);
});

t.test('command and args', async (t) => {
  const base = { id: 'x', secretsDir: '/s' };
  t.same(taskArgv({ ...base, command: ['sh', '-c'], args: ['echo hi'] }), ['sh', '-c', 'echo hi']);
  t.same(taskArgv({ ...base, args: ['sleep', '1'] }), ['sleep', '1'], 'Args alone are the command');
  t.throws(() => taskArgv({ ...base, command: [], args: [] }), new TaskSpecError('No command specified'));
  t.throws(() => taskArgv({ ...base }), /No command specified/);
  t.throws(() => taskArgv({ ...base, command: ['A=1'] }), /cannot contain "="/);
});

t.test('environment: the task\'s own entries, Docker\'s PATH when missing', async (t) => {
  t.same(taskEnv({ id: 'x', secretsDir: '/s', env: ['A=1'] }), ['A=1', `PATH=${DEFAULT_PATH}`]);
  t.same(taskEnv({ id: 'x', secretsDir: '/s', env: ['PATH=/bin', 'B='] }), ['PATH=/bin', 'B=']);
  t.throws(() => taskEnv({ id: 'x', secretsDir: '/s', env: ['=1'] }), /invalid environment variable/);
  t.throws(() => taskEnv({ id: 'x', secretsDir: '/s', env: ['NOEQ'] }), /invalid environment variable "NOEQ": expected KEY=VALUE/);
});

t.test('secret mounts: a list of relative targets or a flag', async (t) => {
  t.equal(wantsSecretsBind({ id: 'x', secretsDir: '/s' }), true);
  t.equal(wantsSecretsBind({ id: 'x' }), false);
  t.equal(wantsSecretsBind({ id: 'x', secretsDir: '/s', secretMounts: [] }), false);
  t.equal(wantsSecretsBind({ id: 'x', secretsDir: '/s', secretMounts: ['a/b'] }), true);
  t.throws(() => wantsSecretsBind({ id: 'x', secretsDir: '/s', secretMounts: ['../x'] }), /invalid secret target "..\/x"/);
  t.throws(() => wantsSecretsBind({ id: 'x', secretsDir: '/s', secretMounts: ['/abs'] }), TaskSpecError);
});

t.test('launcher arguments are positional words, in order', async (t) => {
  const a = launcherArgs({
    secretsDir: '/m/t',
    dir: '/w d',
    uid: 1,
    gid: 2,
    ops: [
      { op: 'overlay', parent: '/etc', submounts: ['a b', 'c'] },
      { op: 'touch', path: '/etc/$(x)' },
      { op: 'need-dir', parent: '/etc', target: '/etc/$(x)' },
      { op: 'bind', source: 'pw', target: '/etc/$(x)' },
      { op: 'hide', mount: '/m' },
    ],
    env: ['A=1'],
    argv: ['sh', '-c', 'echo "$A"'],
  });
  t.same(a, [
    '/m/t', '/w d', '1', '2', '-all',
    'overlay', '/etc', '2', 'a b', 'c',
    'touch', '/etc/$(x)',
    'need-dir', '/etc', '/etc/$(x)',
    'bind', 'pw', '/etc/$(x)',
    'hide', '/m',
    'exec', 'A=1', 'sh', '-c', 'echo "$A"',
  ]);
});

t.test('submounts: only the top ones below a folder', async (t) => {
  const mounts = ['/', '/etc', '/etc/hosts', '/etc/a', '/etc/a/b', '/etcx', '/etc/a'].map((path) => ({ path, fstype: 'x' }));
  t.same(topSubmounts('/etc', mounts), ['a', 'hosts']);
  t.same(topSubmounts('/', mounts), ['etc', 'etcx']);
  t.equal(mountOf('/etc/a/b/c', mounts)?.path, '/etc/a/b');
  t.equal(mountOf('/etcy', mounts)?.path, '/');
});

t.test('TailBuffer keeps exactly the last bytes', async (t) => {
  const tb = new TailBuffer(10);
  for (let i = 0; i < 100; i++) tb.push(Buffer.from(String(i % 10)));
  t.equal(tb.read().toString(), '0123456789');
  t.equal(tb.total, 100);
  tb.push(Buffer.from('abcdefghijklmnop'));
  t.equal(tb.read().toString(), 'ghijklmnop');
});

t.test('mount plan, against a given mount table', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'rs-plan-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const mnt = join(root, 'mnt');
  const secrets = join(mnt, 'web');
  mkdirSync(secrets, { recursive: true });
  writeFileSync(join(secrets, 'pw'), 'x');
  const etc = join(root, 'etc');
  mkdirSync(join(etc, 'sub'), { recursive: true });
  writeFileSync(join(etc, 'there'), 'host');
  const info = join(root, 'mountinfo');
  writeFileSync(
    info,
    [
      `1 0 8:1 / / rw - ext4 /dev/x rw`,
      `2 1 0:50 / ${mnt.replace(/ /g, '\\040')} ro - fuse.runsecrets runsecrets ro`,
      `3 1 0:51 / ${join(etc, 'sub')} rw - tmpfs t rw`,
      '',
    ].join('\n'),
  );

  const plan = await planMounts(
    {
      secretsDir: secrets,
      secretMounts: true,
      absoluteMounts: [
        { source: 'pw', target: join(etc, 'there') },
        { source: join(secrets, 'pw'), target: join(etc, 'new') },
      ],
    },
    info,
  );
  t.equal(plan.secretsDir, secrets);
  const ops = plan.ops.filter((o) => !(o.op === 'overlay' && o.parent === '/run') && !(o.op === 'mkdir'));
  t.same(ops, [
    { op: 'hide-all', fstype: 'fuse.runsecrets', except: mnt },
    { op: 'overlay', parent: etc, submounts: ['sub'] },
    { op: 'touch', path: join(etc, 'new') },
    { op: 'need-dir', parent: etc, target: join(etc, 'there') },
    { op: 'bind', source: 'pw', target: join(etc, 'there') },
    { op: 'need-dir', parent: etc, target: join(etc, 'new') },
    { op: 'bind', source: 'pw', target: join(etc, 'new') },
    { op: 'bind', source: '.', target: '/run/secrets' },
    { op: 'hide', mount: mnt },
  ]);

  const missing = join(root, 'nope', 'x');
  await t.rejects(
    planMounts({ secretsDir: secrets, secretMounts: true, absoluteMounts: [{ source: 'pw', target: missing }] }, info),
    new TaskSpecError(`invalid mount target "${missing}": parent folder "${join(root, 'nope')}" does not exist`),
  );
  await t.rejects(
    planMounts({ secretsDir: secrets, secretMounts: true, absoluteMounts: [{ source: 'pw', target: etc }] }, info),
    /it is a folder, a secret needs a file/,
  );
  await t.rejects(
    planMounts({ secretsDir: secrets, secretMounts: true, absoluteMounts: [{ source: '/elsewhere/pw', target: join(etc, 'y') }] }, info),
    /not inside the task's secrets or files folder/,
  );
  await t.rejects(
    planMounts({ secretsDir: secrets, secretMounts: true, absoluteMounts: [{ source: 'pw', target: 'relative/x' }] }, info),
    /must be an absolute path/,
  );
  await t.rejects(planMounts({ secretsDir: join(root, 'gone'), secretMounts: true, absoluteMounts: [] }, info), /is not reachable/);
});
