// Unit tests for manifest parsing and validation.
import t from 'tap';
import { parseManifest, parseMode, targetError, defaultTaskName, ManifestError, yamlModeProblem, canRead, unreadableFiles } from '../../agent/local/manifest.js';

t.test('a full YAML manifest', async (t) => {
  const m = parseManifest(
    ['task: web', 'uid: 1000', 'gid: "1000"', 'secrets:', '  - file: ./db.txt', '    target: db_password', '    mode: 0440', 'configs:', '  - { file: /etc/app.conf, target: conf/app.conf }'].join('\n'),
    '/srv/tasks/web.yaml',
  );
  t.equal(m.task, 'web');
  t.same([m.uid, m.gid], [1000, 1000]);
  t.same(m.files[0], { kind: 'secret', source: '/srv/tasks/db.txt', target: 'db_password', uid: 0, gid: 0, mode: 0o440 });
  t.same(m.files[1], { kind: 'config', source: '/etc/app.conf', target: 'conf/app.conf', uid: 0, gid: 0, mode: 0o444 });
});

t.test('JSON, default task name and target', async (t) => {
  const m = parseManifest(JSON.stringify({ secrets: [{ file: 'x/token' }] }), '/t/api.json');
  t.equal(m.task, 'api');
  t.equal(m.files[0]!.target, 'token');
  t.equal(defaultTaskName('/a/b.yml'), 'b');
});

t.test('modes', async (t) => {
  t.equal(parseMode('0440', 'm'), 0o440);
  t.equal(parseMode('755', 'm'), 0o755);
  t.equal(parseMode(288, 'm'), 0o440);
  t.equal(parseMode(undefined, 'm'), 0o444);
  t.equal(parseMode('0777', 'm'), 0o777);
  t.equal(parseMode(0, 'm'), 0);
  for (const bad of ['0999', 'rw', 0o10000, -1, 1.5, '', '4755', '2750', '1777', 0o4755, 644]) t.throws(() => parseMode(bad, 'm'), ManifestError, String(bad));
  t.throws(() => parseMode('4755', 'secrets[0].mode'), /secrets\[0\]\.mode must be an octal mode from 0000 to 0777 \(no setuid, setgid or sticky bit\), got "4755"/);
  t.throws(() => parseMode(644, 'm'), /got 644 \(octal 1204\)/, 'a JSON number out of range shows its octal reading');
});

t.test('a YAML mode read as a decimal number is refused with a hint', async (t) => {
  const yaml = (mode: string): string => `secrets:\n  - file: ./a\n    target: a\n  - file: ./b\n    mode: ${mode}\n`;
  t.throws(
    () => parseManifest(yaml('644'), '/t/x.yaml'),
    { message: 'secrets[1].mode: mode 644 was read as the decimal number 644 (YAML); write it quoted as "0644" or as 0644 in YAML 1.1' },
  );
  t.throws(() => parseManifest(yaml('440'), '/t/x.yaml'), /mode 440 was read as the decimal number 440 \(YAML\); write it quoted as "0440"/, 'in range but surely not meant (0670)');
  t.throws(() => parseManifest(yaml('0999'), '/t/x.yaml'), /secrets\[1\]\.mode: mode 0999 is not an octal number/);
  t.throws(() => parseManifest(`configs:\n  - { file: ./c, mode: 288 }\n`, '/t/x.yaml'), /configs\[0\]\.mode: mode 288 was read as the decimal number 288 \(YAML\); write it quoted as "0440"/);
  t.throws(() => parseManifest(yaml('04755'), '/t/x.yaml'), /from 0000 to 0777 \(no setuid/, 'octal with setuid');
  t.throws(() => parseManifest(yaml('"1777"'), '/t/x.yaml'), /from 0000 to 0777/, 'quoted with sticky bit');
  t.equal(parseManifest(yaml('0640'), '/t/x.yaml').files[1]!.mode, 0o640, 'YAML 1.1 octal');
  t.equal(parseManifest(yaml('"640"'), '/t/x.yaml').files[1]!.mode, 0o640, 'quoted');
  t.equal(parseManifest(yaml('4'), '/t/x.yaml').files[1]!.mode, 4, 'below 8 decimal and octal agree');
  t.equal(parseManifest('{"secrets": [{"file": "./a", "mode": 288}]}', '/t/x.json').files[0]!.mode, 0o440, 'JSON numbers are decimal, as in the Engine API');
  t.equal(yamlModeProblem('0440', 288), null);
});

t.test('files the task cannot read are found (as the kernel checks owner, group, others)', async (t) => {
  const f = (uid: number, gid: number, mode: number) => ({ uid, gid, mode });
  t.ok(canRead(0, 0, f(5, 5, 0o000)), 'root reads anything');
  t.notOk(canRead(1000, 1000, f(0, 0, 0o440)), "the README's old example: a uid-1000 task, a 0:0 0440 file");
  t.ok(canRead(1000, 1000, f(1000, 0, 0o400)), 'owner');
  t.ok(canRead(1000, 1000, f(0, 1000, 0o440)), 'group');
  t.notOk(canRead(1000, 1000, f(1000, 0, 0o044)), 'the owner class decides for the owner, even when others may read');
  t.ok(canRead(1000, 1000, f(0, 0, 0o444)), 'others');
  const m = parseManifest('uid: 1000\ngid: 1000\nsecrets:\n  - { file: ./a, target: a, mode: "0440" }\n  - { file: ./b, target: b, uid: 1000, mode: "0400" }\n', '/t/x.yaml');
  t.same(unreadableFiles(m).map((x) => x.target), ['a']);
});

t.test('targets', async (t) => {
  t.equal(targetError('a/b.c'), null);
  t.equal(targetError('..a'), null, 'a name starting with dots is fine');
  t.match(targetError('/x'), /absolute/);
  t.match(targetError('a/../b'), /'\.\.'/);
  t.match(targetError('./a'), /'\.'/);
  t.match(targetError('a//b'), /empty/);
  t.match(targetError('a/'), /empty/);
  t.match(targetError(''), /empty/);
  t.match(targetError('x'.repeat(256)), /255/);
});

t.test('refusals name the problem', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['[1, 2]', /must be a mapping/],
    ['nope: 1', /unknown field 'nope'/],
    ['task: "a b"', /invalid name/],
    ['task: 7', /task must be a string/],
    ['secrets: {}', /must be a list/],
    ['secrets: [3]', /must be a mapping/],
    ['secrets: [{ target: a }]', /file must be a path/],
    ['secrets: [{ file: a, target: 5 }]', /target must be a string/],
    ['uid: 4294967295', /uid must be a number/],
    ['uid: 1.5', /uid must be a number/],
    ['secrets: [{ file: a }, { file: b/a }]', /duplicate target "a"/],
    ['a: 1\na: 2', /cannot parse/],
    ['secrets: !!binary aGVsbG8=', /must be a list/],
    ['uid: !custom 5', /cannot parse: .*tag/i],
  ];
  for (const [text, re] of bad) t.throws(() => parseManifest(text, '/t/x.yaml'), re, text);
});

t.test('alias bombs are refused, not expanded', async (t) => {
  const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) levels.push(`l${i}: &l${i} [${new Array(9).fill(i === 1 ? '*a' : `*l${i - 1}`).join(',')}]`);
  const started = Date.now();
  t.throws(() => parseManifest(levels.join('\n'), '/t/bomb.yaml'), ManifestError);
  t.ok(Date.now() - started < 5000, 'refused without expanding');
});
