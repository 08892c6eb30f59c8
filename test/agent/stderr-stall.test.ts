// An agent whose stderr nobody reads keeps serving its mount. Its log lines wait (or, past a bound, are dropped and
// counted) instead of blocking the process: with synchronous writes a full pipe (a paused `| less`, a stuck log
// shipper) froze the agent, and every read of the secrets mount hung with it. The mount is only ever touched from
// child processes with a timeout here, so that a regression fails the test instead of hanging it.
import t from 'tap';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseSkip } from '../helpers/env.js';
import { startAgent, tempDirs, forceUnmount, isMounted, readInChild } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';

const BAD = 1000; // refused manifests, one log line each (~250 bytes): several times what a pipe holds

const PIPE_BYTES = 64 * 1024; // a pipe's default capacity on Linux

t.test('an agent whose stderr is not read keeps serving', fuseSkip(), async (t) => {
  const dirs = tempDirs('rs-stall-');
  writeFileSync(join(dirs.tasksDir, 'one-src'), 'first secret');
  writeFileSync(join(dirs.tasksDir, 'one.yaml'), 'task: one\nsecrets:\n  - file: one-src\n    target: s\n');
  const agent = await startAgent(dirs);
  t.teardown(async () => {
    agent.proc.stderr?.resume();
    await agent.stop('SIGKILL');
    forceUnmount(dirs.mount);
    rmSync(dirs.dir, { recursive: true, force: true });
  });
  t.same(await readInChild(join(dirs.mount, 'one', 's'), 10_000), Buffer.from('first secret'), 'served before the stall');

  // Stop reading the agent's stderr: the pipe fills (64 KiB) once Node's own buffer is full.
  const stderr = agent.proc.stderr!;
  stderr.pause();
  for (let i = 0; i < BAD; i++) {
    // Renamed in whole: a file seen half-written would be refused twice (empty, then whole).
    writeFileSync(join(dirs.tasksDir, `bad-${i}.part`), `task: bad-${i}\nsecrets: 7\n`);
    renameSync(join(dirs.tasksDir, `bad-${i}.part`), join(dirs.tasksDir, `bad-${i}.yaml`));
  }
  // A good task defined after the bad ones: the agent reaches it only if logging did not stop it.
  writeFileSync(join(dirs.tasksDir, 'two-src'), 'second secret');
  writeFileSync(join(dirs.tasksDir, 'two.yaml'), 'task: two\nsecrets:\n  - file: two-src\n    target: s\n');
  const two = await waitFor('task two on the mount while stderr is not read', () => readInChild(join(dirs.mount, 'two', 's'), 2000), {
    timeoutMs: 30_000,
    intervalMs: 100,
  }).catch(() => null);
  const servedAt = Date.now();
  t.same(two, Buffer.from('second secret'), 'a task added behind 1,000 logged refusals is served while stderr is not read');
  t.same(await readInChild(join(dirs.mount, 'one', 's'), 10_000), Buffer.from('first secret'), 'the first task is still read');
  const buffered = stderr.readableLength;
  t.ok(buffered >= stderr.readableHighWaterMark, `the test stopped reading the pipe (${buffered} bytes buffered in the test)`);

  // The reader comes back: within the bound nothing was lost.
  agent.proc.stderr!.resume();
  const refused = await waitFor(
    'every refusal in the log after resuming',
    () => {
      const n = new Set(agent.logs().filter((l) => l.msg === 'manifest refused' && String(l.file).includes('/bad-')).map((l) => l.file)).size;
      return n >= BAD ? n : 0;
    },
    { timeoutMs: 30_000 },
  ).catch(() => 0);
  t.equal(refused, BAD, 'a refusal for every bad manifest arrives once stderr is read again');
  // What the agent had logged by the time 'two' was served, against what the pipe and the test's buffer could take:
  // the difference was waiting in the agent, which kept serving meanwhile.
  const logged = agent
    .logs()
    .filter((l) => typeof l.time === 'string' && Date.parse(l.time) <= servedAt)
    .reduce((n, l) => n + Buffer.byteLength(JSON.stringify(l)) + 1, 0);
  t.ok(
    logged > buffered + PIPE_BYTES,
    `the agent served 'two' with log lines it could not write yet: ${logged} bytes logged, at most ${buffered + PIPE_BYTES} taken by the pipe and the test`,
  );
  t.notOk(agent.logs().some((l) => l.msg === 'log lines dropped: stderr was not read'), 'none was dropped');

  t.equal(await agent.stop('SIGTERM'), 0, 'SIGTERM still stops it cleanly');
  t.notOk(isMounted(dirs.mount), 'and the mount is gone');
});
