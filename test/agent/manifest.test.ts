// Unit tests for manifest parsing and validation.
import t from 'tap';
import { parseManifest, parseMode, targetError, defaultTaskName, ManifestError } from '../../agent/local/manifest.js';

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
  for (const bad of ['0999', 'rw', 0o10000, -1, 1.5, '']) t.throws(() => parseMode(bad, 'm'), ManifestError, String(bad));
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
