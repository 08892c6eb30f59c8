// The task log store: Docker's json-file lines, line splitting across chunks, rotation at max-size keeping
// max-file files, reads with tail/since/until, follow (subscribe) and removal.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogStore, parseLogFileCount, parseLogSize, parseUnixTimestamp } from '../../agent/logs/index.js';
import type { LogEntry } from '../../agent/logs/index.js';

const ID = 'logtask000000000000000001';

function store(t: Test, rotation?: { maxSize?: number; maxFile?: number }): { s: LogStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rs-logs-'));
  const s = new LogStore({ dir, ...(rotation ? { rotation } : {}) });
  t.teardown(() => {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { s, dir };
}

const text = (es: LogEntry[]): string[] => es.map((e) => `${e.stream}:${e.line.toString()}`);

t.test('json-file lines, split across chunks, per stream', async (t) => {
  const { s, dir } = store(t);
  s.write(ID, 'stdout', Buffer.from('one\ntw'));
  s.write(ID, 'stderr', Buffer.from('err\n'));
  s.write(ID, 'stdout', Buffer.from('o\nthree'));
  s.flush(ID);
  t.same(text(s.read(ID)), ['stdout:one\n', 'stderr:err\n', 'stdout:two\n', 'stdout:three']);
  const file = join(dir, ID, `${ID}-json.log`);
  t.equal(statSync(file).mode & 0o777, 0o600, 'the log file is root-only');
  const first = JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!) as Record<string, unknown>;
  t.same(Object.keys(first), ['log', 'stream', 'time'], "Docker's json-file fields");
  t.equal(first.log, 'one\n');
  t.match(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
});

t.test('rotation: max-size per file, max-file files kept, oldest dropped', async (t) => {
  const { s, dir } = store(t, { maxSize: 400, maxFile: 3 });
  for (let i = 0; i < 60; i++) s.write(ID, 'stdout', Buffer.from(`line ${String(i).padStart(3, '0')}\n`));
  const files = readdirSync(join(dir, ID)).sort();
  t.same(files, [`${ID}-json.log`, `${ID}-json.log.1`, `${ID}-json.log.2`], 'the current file and two rotated ones');
  for (const f of files) t.ok(statSync(join(dir, ID, f)).size <= 400, `${f} within max-size`);
  const lines = s.read(ID).map((e) => e.line.toString());
  t.equal(lines.at(-1), 'line 059\n', 'the newest line is kept');
  t.notOk(lines.includes('line 000\n'), 'the oldest lines were rotated away');
  const nums = lines.map((l) => Number(l.slice(5, 8)));
  t.same(nums, nums.slice().sort((a, b) => a - b), 'read back in order across files');
  t.ok(lines.length < 60 && lines.length > 10, `${lines.length} lines kept`);
});

t.test('max-file 1 keeps only the current file', async (t) => {
  const { s, dir } = store(t, { maxSize: 200, maxFile: 1 });
  for (let i = 0; i < 30; i++) s.write(ID, 'stdout', Buffer.from(`x${i}\n`));
  t.same(readdirSync(join(dir, ID)), [`${ID}-json.log`]);
  t.equal(s.read(ID).at(-1)?.line.toString(), 'x29\n');
});

t.test('tail, since, until', async (t) => {
  const { s } = store(t);
  for (let i = 0; i < 5; i++) s.write(ID, 'stdout', Buffer.from(`n${i}\n`));
  const all = s.read(ID);
  t.same(text(s.read(ID, { tail: 2 })), ['stdout:n3\n', 'stdout:n4\n']);
  t.same(s.read(ID, { tail: 0 }), []);
  t.same(text(s.read(ID, { sinceNs: all[3]!.timeNs })), ['stdout:n3\n', 'stdout:n4\n'], 'since includes its own instant');
  t.same(text(s.read(ID, { untilNs: all[1]!.timeNs })), ['stdout:n0\n', 'stdout:n1\n']);
  t.equal(parseUnixTimestamp('1700000000.5'), 1_700_000_000_500_000_000n, "the CLI's SECONDS.NANOS form");
  t.equal(parseUnixTimestamp('0'), null, 'until 0 means none');
});

t.test('follow: subscribers get new lines; remove deletes the log and ends them', async (t) => {
  const { s, dir } = store(t);
  s.write(ID, 'stdout', Buffer.from('before\n'));
  const got: string[] = [];
  let removed = false;
  const backlog = s.read(ID);
  s.subscribe(ID, (e) => got.push(e.line.toString()), () => (removed = true));
  s.write(ID, 'stderr', Buffer.from('after\n'));
  t.same(text(backlog), ['stdout:before\n']);
  t.same(got, ['after\n'], 'a new line once, after the backlog');
  s.remove(ID);
  t.ok(removed, 'subscribers are told');
  t.notOk(existsSync(join(dir, ID)), 'the folder is gone');
  t.same(s.read(ID), []);
});

t.test('a long line without a newline is stored in 16 KiB pieces', async (t) => {
  const { s } = store(t);
  s.write(ID, 'stdout', Buffer.alloc(40 * 1024, 0x61));
  s.flush(ID);
  t.same(s.read(ID).map((e) => e.line.length), [16384, 16384, 8192]);
});

t.test('prune removes the logs of tasks not kept', async (t) => {
  const { s, dir } = store(t);
  const other = 'logtask000000000000000002';
  s.write(ID, 'stdout', Buffer.from('keep\n'));
  s.write(other, 'stdout', Buffer.from('old\n'));
  t.same(s.prune((id) => id === ID), [other]);
  t.same(readdirSync(dir), [ID]);
  t.equal(s.read(ID).length, 1);
});

t.test("Docker's max-size and max-file values", async (t) => {
  t.equal(parseLogSize('10m'), 10 * 1024 * 1024);
  t.equal(parseLogSize('512k'), 512 * 1024);
  t.equal(parseLogSize('1G'), 1024 ** 3);
  t.equal(parseLogSize('2048'), 2048);
  t.throws(() => parseLogSize('ten'), /invalid size "ten"/);
  t.throws(() => parseLogSize('0'), /at least 1 byte/);
  t.equal(parseLogFileCount('5'), 5);
  t.throws(() => parseLogFileCount('0'), /invalid max-file/);
});
