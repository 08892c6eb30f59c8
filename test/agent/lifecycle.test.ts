// Start, stop and crash: no mount is ever left behind, readers never hang, a restart works, and no process the
// agent starts holds /dev/fuse.
import t, { type Test } from 'tap';
import { writeFileSync, readFileSync, readdirSync, readlinkSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { fuseSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';
import { startAgent, tempDirs, forceUnmount, isMounted } from '../helpers/agent.js';

function watchdogPids(mount: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmd.includes('runsecrets-unmount-watchdog') && cmd.includes(mount)) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

function fdTargets(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
  } catch {
    return [];
  }
}

function procState(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0]!;
  } catch {
    return null;
  }
}

/** A tasks dir with one task; the mount and the folder go away at the end of the test, whatever happened. */
function setup(t: Test) {
  const d = tempDirs();
  writeFileSync(join(d.tasksDir, 's.txt'), 'lifecycle-secret');
  writeFileSync(join(d.tasksDir, 'web.yaml'), 'secrets:\n  - { file: ./s.txt, target: s }\n');
  t.teardown(() => {
    forceUnmount(d.mount);
    rmSync(d.dir, { recursive: true, force: true });
  });
  return d;
}

t.test('SIGTERM unmounts cleanly and exits 0', fuseSkip(), async (t) => {
  const d = setup(t);
  const agent = await startAgent(d);
  t.equal(readFileSync(join(d.mount, 'web/s'), 'utf8'), 'lifecycle-secret');
  const [wd] = watchdogPids(d.mount);
  t.ok(wd, 'an unmount watchdog runs');
  t.notOk(fdTargets(wd!).includes('/dev/fuse'), 'the watchdog does not hold /dev/fuse');
  t.notOk(fdTargets(agent.proc.pid!).filter((p) => p === '/dev/fuse').length > 1, 'the agent holds /dev/fuse once');
  const limits = readFileSync(`/proc/${agent.proc.pid}/limits`, 'utf8');
  t.match(limits, /Max core file size\s+0\s+0\s/, 'core dumps disabled');
  t.equal(await agent.stop('SIGTERM'), 0, 'exit code 0');
  t.notOk(isMounted(d.mount), 'no mount left');
  await waitFor('watchdog exit', () => watchdogPids(d.mount).length === 0, { timeoutMs: 5000 });
  t.ok(agent.logs().some((l) => l.msg === 'unmounted'));
});

t.test('SIGINT also unmounts cleanly', fuseSkip(), async (t) => {
  const d = setup(t);
  const agent = await startAgent(d);
  t.equal(await agent.stop('SIGINT'), 0);
  t.notOk(isMounted(d.mount));
});

t.test('kill -9: no mount left, a reader does not hang, a restart works', fuseSkip(), async (t) => {
  const d = setup(t);
  const agent = await startAgent(d);
  const file = join(d.mount, 'web/s');
  // A reader in another process, reading in a loop while the agent dies under it.
  const stop = join(d.dir, 'stop');
  const reading = join(d.dir, 'reading');
  const reader = spawn(
    'sh',
    ['-c', 'n=0; while [ ! -e "$2" ]; do cat "$1" >/dev/null 2>&1 && : > "$3"; n=$((n+1)); done; echo $n', 'reader', file, stop, reading],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let out = '';
  reader.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const readerDone = new Promise<number | null>((res) => reader.on('close', (c) => res(c)));
  await waitFor('reader reading', () => existsSync(reading));
  agent.proc.kill('SIGKILL');
  await agent.exited;
  await waitFor('mount gone after kill -9', () => !isMounted(d.mount), { timeoutMs: 5000 });
  t.pass('no mount left after kill -9');
  writeFileSync(stop, '');
  await waitFor('reader exits', async () => {
    const st = procState(reader.pid!);
    if (st === 'D') throw new Error('reader stuck in D state');
    return reader.exitCode !== null;
  }, { timeoutMs: 5000 });
  t.equal(await readerDone, 0, 'the reader finished on its own');
  t.ok(Number(out.trim()) > 0, `reader looped ${out.trim()} times`);
  t.notOk(existsSync(file), 'the secret is not visible in the bare mount point');

  const again = await startAgent(d);
  t.equal(readFileSync(file, 'utf8'), 'lifecycle-secret', 'restarted agent serves again');
  t.equal(await again.stop(), 0);
  t.notOk(isMounted(d.mount));
});

t.test('a stale mount left by a crashed agent is cleared at start', fuseSkip(), async (t) => {
  const d = setup(t);
  const agent = await startAgent(d);
  // Kill the watchdog first, then the agent: the mount stays, dead ("Transport endpoint is not connected").
  for (const pid of watchdogPids(d.mount)) process.kill(pid, 'SIGKILL');
  await waitFor('watchdog gone', () => watchdogPids(d.mount).length === 0);
  agent.proc.kill('SIGKILL');
  await agent.exited;
  t.ok(isMounted(d.mount), 'dead mount is still there');
  const r = (() => {
    try {
      execFileSync('stat', [d.mount], { stdio: 'pipe' });
      return 'ok';
    } catch (e) {
      return String((e as { stderr?: Buffer }).stderr);
    }
  })();
  t.match(r, /Transport endpoint is not connected/, 'and dead');
  const again = await startAgent(d);
  t.ok(again.logs().some((l) => l.msg === 'clearing a stale mount left by a crashed agent'), 'logged');
  t.equal(readFileSync(join(d.mount, 'web/s'), 'utf8'), 'lifecycle-secret');
  t.equal(await again.stop(), 0);
});

t.test('a second agent on a live mount refuses to start', fuseSkip(), async (t) => {
  const d = setup(t);
  const agent = await startAgent(d);
  await t.rejects(startAgent(d), /already served by a running FUSE filesystem/);
  t.equal(readFileSync(join(d.mount, 'web/s'), 'utf8'), 'lifecycle-secret', 'the first agent still serves');
  t.equal(await agent.stop(), 0);
});
