// kill -9 of the agent that serves the mount while a task reads in a loop: what needs the agent fails (the kernel
// aborts the connection once no process holds /dev/fuse: the task holds none), the task is not left in D state.
import t from 'tap';
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fuseSkip } from '../helpers/env.js';
import { startAgent, tempDirs, forceUnmount, type AgentProc } from '../helpers/agent.js';
import { testExecutor } from '../helpers/executor.js';
import { waitFor } from '../helpers/wait.js';

t.test('agent killed -9 under a reading task: what needs the agent fails, the task ends', fuseSkip(), async (t) => {
  const d = tempDirs('rs-exec-crash-');
  writeFileSync(join(d.tasksDir, 'pw.txt'), 'loop-secret');
  writeFileSync(join(d.tasksDir, 'reader.yaml'), ['uid: 1000', 'gid: 1000', 'secrets:', '  - { file: ./pw.txt, target: pw, uid: 1000 }'].join('\n'));
  const te = testExecutor();
  let agent: AgentProc | undefined;
  t.teardown(async () => {
    await te.ex.stopAll();
    await agent?.stop('SIGKILL');
    forceUnmount(d.mount);
    rmSync(d.dir, { recursive: true, force: true });
  });
  agent = await startAgent(d);

  const running = await te.ex.start({
    id: 'reader',
    // Each round reads the secret and looks up a name never seen before, which always takes a round trip to the
    // agent (the secret itself may be served from the kernel's cache). "reading" tells the test rounds are going.
    command: ['sh', '-c', [
      'n=0',
      'while :; do',
      '  cat /run/secrets/pw > /dev/null || { echo "read failed" >&2; exit 7; }',
      '  n=$((n + 1))',
      '  err=$(cat "/run/secrets/probe-$n" 2>&1)',
      '  case $err in *"No such file"*) ;; *) echo "lookup failed: $err" >&2; exit 8 ;; esac',
      '  [ $n = 20 ] && echo reading',
      'done',
    ].join('\n')],
    user: '1000:1000',
    secretsDir: join(d.mount, 'reader'),
  });
  t.equal(running.state, 'running');
  await te.waitOutput('reader', 'reading');

  agent.proc.kill('SIGKILL');
  await agent.exited;
  const pid = running.pid!;
  // Never in uninterruptible sleep for long: poll its state until it has ended.
  const final = await waitFor(
    'the task to end after the agent died',
    async () => {
      if (existsSync(`/proc/${pid}/stat`)) {
        const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[0];
        if (state === 'D') return undefined;
      }
      const s = te.ex.status('reader');
      return s && (s.state === 'failed' || s.state === 'complete') ? s : undefined;
    },
    { timeoutMs: 15_000 },
  );
  t.equal(final.state, 'failed');
  t.ok(final.exitCode === 7 || final.exitCode === 8, `the task saw a failure and ended on its own (exit ${final.exitCode})`);
  t.match(te.ex.output('reader')!.stderr.toString(), /(read|lookup) failed/);
  t.match(te.ex.output('reader')!.stderr.toString(), /connection abort|not connected|read failed/, 'the connection was aborted');
});
