// The log sink on a real pipe (a FIFO whose read end the test holds): a reader that stops never blocks the writer,
// a slow reader loses nothing within the bound, lines past the bound are dropped whole and counted, the count is
// reported in the stream once the reader is back, and a reader that is gone (EPIPE) stops the sink quietly.
import t, { type Test } from 'tap';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { LogSink } from '../../shared/log-sink.js';

/** A FIFO: the read end non-blocking (the test drains it when it wants), the write end blocking like a stderr. */
function fifo(t: Test): { readFd: number; writeFd: number } {
  const dir = mkdtempSync(join(tmpdir(), 'rs-logsink-'));
  const path = join(dir, 'pipe');
  execFileSync('mkfifo', [path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(path, constants.O_WRONLY);
  t.teardown(() => {
    for (const fd of [readFd, writeFd]) {
      try {
        closeSync(fd);
      } catch {
        /* closed by the test */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return { readFd, writeFd };
}

/** Everything readable now. */
function drain(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    try {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw err;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Drains until pred holds on all that was read, letting the sink's writes run in between. */
async function readUntil(fd: number, pred: (all: string) => boolean, what: string): Promise<string> {
  let all = '';
  const deadline = Date.now() + 10_000;
  while (!pred(all)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; read ${all.length} bytes`);
    all += drain(fd);
    await new Promise((r) => setTimeout(r, 5));
  }
  return all;
}

const line = (i: number): string => `${JSON.stringify({ level: 'info', i, msg: 'x'.repeat(180) })}\n`;

t.test('a reader that stops costs lines, never the writer', async (t) => {
  const { readFd, writeFd } = fifo(t);
  const sink = new LogSink({ fd: writeFd, maxQueueBytes: 256 * 1024 });
  const total = 20_000; // ~4 MB: far more than the pipe (64 KiB) and the bound (256 KiB) hold
  for (let i = 0; i < total; i++) sink.write(line(i)); // each call returns at once: nothing here can block
  t.ok(sink.droppedLines > 0, `lines past the bound are dropped (${sink.droppedLines})`);
  t.ok(sink.pendingBytes <= 256 * 1024, `the queue stays within its bound (${sink.pendingBytes} bytes)`);

  // The event loop is not held: a timer fires while the pipe is full.
  await new Promise((r) => setTimeout(r, 20));
  t.ok(sink.pendingBytes > 0, 'the pipe is still full: nothing read yet');
  await sink.flush(100); // bounded: an exiting process is not kept by a reader that stopped
  t.pass('flush gives up after its timeout while the reader is stopped');

  // The reader comes back: the lines kept arrive whole and in order, then one line saying how many were dropped.
  const all = await readUntil(readFd, (s) => s.includes('log lines dropped'), 'the dropped-lines report');
  const lines = all.split('\n').filter((l) => l !== '');
  const parsed = lines.map((l) => JSON.parse(l) as { i?: number; dropped?: number; msg: string });
  t.pass('every line read is whole JSON');
  const kept = parsed.filter((p) => p.i !== undefined).map((p) => p.i!);
  t.same(kept, kept.map((_, k) => k), 'the kept lines are the first ones, in order, with no gap');
  const report = parsed.find((p) => p.msg === 'log lines dropped: stderr was not read');
  t.equal(report?.dropped, total - kept.length, 'the report counts exactly the lines dropped');
  t.equal(sink.droppedLines, 0, 'the count restarts after its report');

  // Afterwards the sink carries on as normal.
  sink.write(line(total));
  const after = await readUntil(readFd, (s) => s.includes(`"i":${total}`), 'a line written after the report');
  t.match(after, `"i":${total}`, 'lines written after the catch-up arrive');
  await sink.flush(1000);
  t.equal(sink.pendingBytes, 0, 'flush resolves once everything is written');
});

t.test('a slow reader loses nothing within the bound', async (t) => {
  const { readFd, writeFd } = fifo(t);
  const sink = new LogSink({ fd: writeFd, maxQueueBytes: 1024 * 1024 });
  const total = 3000; // ~600 KB: more than the pipe, less than the bound
  for (let i = 0; i < total; i++) sink.write(line(i));
  const all = await readUntil(readFd, (s) => s.includes(`"i":${total - 1},`), 'the last line');
  const kept = all
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { i: number }).i);
  t.same(kept, Array.from({ length: total }, (_, i) => i), 'all lines, in order');
  t.equal(sink.droppedLines, 0, 'none dropped');
});

t.test('a reader that is gone (EPIPE) stops the sink without an error', async (t) => {
  const { readFd, writeFd } = fifo(t);
  const sink = new LogSink({ fd: writeFd });
  closeSync(readFd);
  sink.write(line(0));
  await sink.flush(1000);
  t.equal(sink.pendingBytes, 0, 'nothing is kept for a reader that cannot come back');
  t.doesNotThrow(() => sink.write(line(1)), 'later lines are ignored');
  await sink.flush(1000);
  t.equal(sink.pendingBytes, 0, 'and not queued');
});
