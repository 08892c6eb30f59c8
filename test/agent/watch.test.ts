// Manifests are watched: add, edit and remove show up promptly; rotations are atomic for readers; bad manifests
// are refused with one clear log line and change nothing.
import t from 'tap';
import { writeFileSync, readFileSync, existsSync, renameSync, rmSync, statSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fuseSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';
import { startAgent, tempDirs, forceUnmount, type AgentProc } from '../helpers/agent.js';

/** Replaces a file in one step, as an operator's tooling should (write aside, then rename). */
function writeAtomic(path: string, data: string | Buffer): void {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

function readOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

t.test('watched manifests', fuseSkip(), async (t) => {
  const d = tempDirs();
  let agent: AgentProc | undefined;
  t.teardown(async () => {
    await agent?.stop();
    forceUnmount(d.mount);
    rmSync(d.dir, { recursive: true, force: true });
  });
  writeFileSync(join(d.tasksDir, 'a.txt'), 'alpha-1');
  writeFileSync(join(d.tasksDir, 'b.txt'), 'bravo-1');
  writeFileSync(join(d.tasksDir, 'keep.yaml'), 'secrets:\n  - { file: ./b.txt, target: b }\n');
  agent = await startAgent(d);
  const m = d.mount;

  t.test('a new manifest appears, an edit applies in place, a removal makes the folder vanish', async (t) => {
    let start = Date.now();
    writeAtomic(join(d.tasksDir, 'svc.yaml'), 'secrets:\n  - { file: ./a.txt, target: a }\n');
    await waitFor('new task folder', () => readOr(join(m, 'svc/a')) === 'alpha-1', { timeoutMs: 10_000 });
    t.pass(`added in ${Date.now() - start} ms`);
    const mtime1 = statSync(join(m, 'svc/a')).mtimeMs;

    start = Date.now();
    writeAtomic(join(d.tasksDir, 'a.txt'), 'alpha-2-longer');
    await waitFor('edited source', () => readOr(join(m, 'svc/a')) === 'alpha-2-longer', { timeoutMs: 10_000 });
    t.pass(`source edit applied in ${Date.now() - start} ms`);
    await waitFor('exact size after edit', () => statSync(join(m, 'svc/a')).size === 14, { timeoutMs: 10_000 });
    t.ok(statSync(join(m, 'svc/a')).mtimeMs > mtime1, 'mtime rose');

    start = Date.now();
    writeAtomic(join(d.tasksDir, 'svc.yaml'), 'secrets:\n  - { file: ./a.txt, target: renamed, mode: "0400" }\n');
    await waitFor('manifest edit', () => readOr(join(m, 'svc/renamed')) === 'alpha-2-longer', { timeoutMs: 10_000 });
    t.pass(`manifest edit applied in ${Date.now() - start} ms`);
    await waitFor('old target gone', () => !existsSync(join(m, 'svc/a')), { timeoutMs: 10_000 });

    start = Date.now();
    unlinkSync(join(d.tasksDir, 'svc.yaml'));
    await waitFor('task folder gone', () => !readdirSync(m).includes('svc'), { timeoutMs: 10_000 });
    t.pass(`removed in ${Date.now() - start} ms`);
    await waitFor('file gone', () => !existsSync(join(m, 'svc/renamed')), { timeoutMs: 10_000 });
    t.equal(readOr(join(m, 'keep/b')), 'bravo-1', 'other task untouched');
  });

  t.test('readers never see mixed, empty or short content during 500 rotations', async (t) => {
    const src = join(d.tasksDir, 'rot.bin');
    const content = (v: number) => {
      const len = 40 + ((v * 7919) % 6000); // lengths go up and down, so a short read shows
      const head = `${v}:${len}:`;
      return head + String.fromCharCode(97 + (v % 26)).repeat(len - head.length);
    };
    writeAtomic(src, content(0));
    writeAtomic(join(d.tasksDir, 'rot.yaml'), 'secrets:\n  - { file: ./rot.bin, target: s }\n');
    const file = join(m, 'rot/s');
    await waitFor('rotation task', () => readOr(file) === content(0), { timeoutMs: 10_000 });
    const stop = join(d.dir, 'stop-readers');
    const readers = ['eof', 'eof', 'fstat'].map((mode) => {
      const p = spawn(process.execPath, [join(import.meta.dirname, '../fixtures/rotation-reader.mjs'), file, stop, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (c: Buffer) => (out += c.toString()));
      return { mode, done: new Promise<{ reads: number; bad: string[] }>((res) => p.on('close', () => res(JSON.parse(out || '{"reads":0,"bad":["no output"]}')))) };
    });
    for (let v = 1; v <= 500; v++) {
      writeAtomic(src, content(v));
      await waitFor(`version ${v}`, () => readOr(file) === content(v), { timeoutMs: 15_000, intervalMs: 1 });
    }
    writeFileSync(stop, '');
    for (const r of readers) {
      const res = await r.done;
      t.ok(res.reads > 100, `${r.mode} reader made ${res.reads} reads`);
      t.same(res.bad, [], `${r.mode} reader saw only whole versions`);
    }
  });

  t.test('bad manifests are refused with a clear error; the last good state stays; others untouched', async (t) => {
    writeFileSync(join(d.tasksDir, 'good.txt'), 'good-bytes');
    writeFileSync(join(d.tasksDir, 'big.txt'), Buffer.alloc(512000, 1));
    writeFileSync(join(d.tasksDir, 'empty.txt'), '');
    writeAtomic(join(d.tasksDir, 'bad.yaml'), 'uid: 7\nsecrets:\n  - { file: ./good.txt, target: g }\n');
    await waitFor('good state', () => readOr(join(m, 'bad/g')) === 'good-bytes', { timeoutMs: 10_000 });
    const goodMtime = statSync(join(m, 'bad/g')).mtimeMs;
    const cases: Array<[string, string, RegExp]> = [
      ['unparseable', 'secrets: [ {', /cannot parse/],
      ['unknown field', 'secrets: []\ncolour: blue\n', /unknown field 'colour'/],
      ['unknown ref field', 'secrets:\n  - { file: ./good.txt, target: g, owner: 1 }\n', /unknown field 'owner'/],
      ['bad name', 'task: -bad-\nsecrets: []\n', /task name "-bad-": invalid name/],
      ['absolute target', 'secrets:\n  - { file: ./good.txt, target: /etc/x }\n', /must be relative/],
      ['dotdot target', 'secrets:\n  - { file: ./good.txt, target: a/../../x }\n', /must not contain '\.\.'/],
      ['empty part', 'secrets:\n  - { file: ./good.txt, target: "a//b" }\n', /empty parts/],
      ['duplicate target', 'secrets:\n  - { file: ./good.txt, target: g }\nconfigs:\n  - { file: ./good.txt, target: g }\n', /duplicate target "g"/],
      ['file and folder', 'secrets:\n  - { file: ./good.txt, target: g }\n  - { file: ./good.txt, target: g/h }\n', /is a file and also the folder/],
      ['missing source', 'secrets:\n  - { file: ./nope.txt, target: g }\n', /no such file/],
      ['oversized source', 'secrets:\n  - { file: ./big.txt, target: g }\n', /secret data must be larger than 0 and less than 512000 bytes/],
      ['empty source', 'secrets:\n  - { file: ./empty.txt, target: g }\n', /larger than 0/],
      ['bad mode', 'secrets:\n  - { file: ./good.txt, target: g, mode: "0999" }\n', /octal mode/],
      ['decimal mode', 'secrets:\n  - { file: ./good.txt, target: g, mode: 644 }\n', /mode 644 was read as the decimal number 644 \(YAML\); write it quoted as "0644" or as 0644 in YAML 1\.1/],
      ['0999 unquoted', 'secrets:\n  - { file: ./good.txt, target: g, mode: 0999 }\n', /mode 0999 is not an octal number/],
      ['setuid mode', 'secrets:\n  - { file: ./good.txt, target: g, mode: "4755" }\n', /from 0000 to 0777 \(no setuid, setgid or sticky bit\)/],
      ['uid not a number', 'uid: alice\nsecrets:\n  - { file: ./good.txt, target: g }\n', /uid must be a number/],
      ['gid not a number', 'secrets:\n  - { file: ./good.txt, target: g, gid: -1 }\n', /gid must be a number/],
      ['task taken', 'task: keep\nsecrets: []\n', /already defined by/],
    ];
    for (const [what, text, expected] of cases) {
      const from = agent!.logs().length;
      writeAtomic(join(d.tasksDir, 'bad.yaml'), text);
      const refusal = (l: Record<string, unknown>) => l.msg === 'manifest refused' && String(l.file).endsWith('bad.yaml') && expected.test(String(l.err));
      const line = await agent!.waitLog(refusal, from, 10_000);
      t.pass(`${what}: ${line.err}`);
      t.equal(line.level, 'error');
      t.equal(agent!.logs().slice(from).filter(refusal).length, 1, `${what}: one log line`);
      t.equal(readOr(join(m, 'bad/g')), 'good-bytes', `${what}: last good state kept`);
      t.equal(statSync(join(m, 'bad/g')).uid, 0);
      t.equal(statSync(join(m, 'bad')).uid, 7);
      t.equal(statSync(join(m, 'bad/g')).mtimeMs, goodMtime, `${what}: untouched`);
      t.equal(readOr(join(m, 'keep/b')), 'bravo-1', `${what}: other tasks untouched`);
    }
    t.notOk(agent!.logs().some((l) => JSON.stringify(l).includes('good-bytes')), 'no secret bytes in any log line');
  });

  t.test('log lines say what happened: no refusal for an in-place edit, a recovery line, unreadable files', async (t) => {
    writeFileSync(join(d.tasksDir, 'edit.txt'), 'edit-bytes');
    const manifest = join(d.tasksDir, 'edit.yaml');
    writeAtomic(manifest, 'secrets:\n  - { file: ./edit.txt, target: e }\n');
    await waitFor('edit task', () => readOr(join(m, 'edit/e')) === 'edit-bytes', { timeoutMs: 10_000 });
    const refusedHere = (from: number) => agent!.logs().slice(from).filter((l) => l.msg === 'manifest refused' && String(l.file) === manifest);

    // An editor saving in place: the file is empty for a moment (truncate, pause, write).
    let from = agent!.logs().length;
    writeFileSync(manifest, '');
    await new Promise((r) => setTimeout(r, 60));
    writeFileSync(manifest, 'secrets:\n  - { file: ./edit.txt, target: second }\n');
    await waitFor('edited in place', () => readOr(join(m, 'edit/second')) === 'edit-bytes', { timeoutMs: 10_000 });
    t.same(refusedHere(from), [], 'the momentarily empty file is not refused');

    // A file left empty is refused, once the settle delay has shown it stays empty.
    from = agent!.logs().length;
    writeFileSync(manifest, '');
    const empty = await agent!.waitLog((l) => l.msg === 'manifest refused' && String(l.file) === manifest, from, 10_000);
    t.equal(empty.err, 'the file is empty');

    // A missing source is refused; putting it back logs that the refusal is resolved.
    writeAtomic(manifest, 'secrets:\n  - { file: ./later.txt, target: l }\n');
    await agent!.waitLog((l) => l.msg === 'manifest refused' && String(l.file) === manifest && /later\.txt: no such file/.test(String(l.err)), from, 10_000);
    from = agent!.logs().length;
    writeAtomic(join(d.tasksDir, 'later.txt'), 'later-bytes');
    const ok = await agent!.waitLog((l) => l.msg === 'manifest accepted again: the refusal is resolved' && String(l.file) === manifest, from, 10_000);
    t.match(String(ok.was), /later\.txt: no such file/, 'the recovery line names what was wrong');
    t.equal(readOr(join(m, 'edit/l')), 'later-bytes');

    // A uid-1000 task given a 0:0 0440 file: applied, with a warning naming the file.
    from = agent!.logs().length;
    writeAtomic(manifest, 'uid: 1000\ngid: 1000\nsecrets:\n  - { file: ./later.txt, target: l, mode: "0440" }\n  - { file: ./edit.txt, target: mine, uid: 1000, mode: "0400" }\n');
    const warn = await agent!.waitLog((l) => l.msg === "the task's uid/gid cannot read this file" && String(l.file) === manifest, from, 10_000);
    t.equal(warn.level, 'warn');
    t.same([warn.target, warn.taskUid, warn.uid, warn.gid, warn.mode], ['l', 1000, 0, 0, '0440']);
    await agent!.waitLog((l) => l.msg === 'task applied' && String(l.file) === manifest, from, 10_000);
    t.equal(agent!.logs().slice(from).filter((l) => l.msg === "the task's uid/gid cannot read this file").length, 1, 'only the unreadable file is named');
    unlinkSync(manifest);
  });
});
