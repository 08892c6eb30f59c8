// Cache notifications against lookups in flight. When a secret file comes and goes, the agent tells the kernel to
// drop the name (FUSE_NOTIFY_INVAL_ENTRY / DELETE); the kernel applies that under the folder's lock, which a lookup
// in the same folder holds while it waits for the agent's answer. Were the notification written on the event loop,
// the agent would block on the kernel while the kernel waits for the agent: the mount would freeze. This drives
// both at once (readers looking up names in the folder, the task's files swapped 2,000 times) and checks that the
// mount still answers. The mount is only touched from child processes with a timeout, so a freeze fails the test
// instead of hanging it.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseSkip } from '../helpers/env.js';
import { startAgent, tempDirs, forceUnmount, readInChild } from '../helpers/agent.js';
import { mountAt } from '../../agent/fs/mountinfo.js';
import { abortFuseConnection } from '../../agent/fs/mount.js';

const SWAPS = 2000;
const READERS = 4;

function procState(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[0] ?? '?';
  } catch {
    return 'gone';
  }
}

t.test('notifications while lookups are in flight: the mount never freezes', fuseSkip(), async (t) => {
  const dirs = tempDirs('rs-notify-');
  const manifest = join(dirs.tasksDir, 't.yaml');
  const put = (k: number): void => {
    // Each step drops one name and adds another (s1 <-> s2), with new bytes: entry and inode notifications.
    writeFileSync(join(dirs.tasksDir, `src-${k % 2}.part`), `value ${k}`);
    renameSync(join(dirs.tasksDir, `src-${k % 2}.part`), join(dirs.tasksDir, `src-${k % 2}`));
    writeFileSync(`${manifest}.part`, `task: t\nsecrets:\n  - file: src-${k % 2}\n    target: s${(k % 2) + 1}\n`);
    renameSync(`${manifest}.part`, manifest);
  };
  put(0);
  const agent = await startAgent(dirs);
  const majMin = mountAt(dirs.mount)?.majMin ?? null;
  const readers: ChildProcess[] = [];
  t.teardown(async () => {
    // A frozen agent sits in D state (SIGKILL waits) until its FUSE connection is aborted: abort it first.
    if (majMin) await abortFuseConnection(majMin);
    for (const r of readers) r.kill('SIGKILL');
    await agent.stop('SIGKILL');
    forceUnmount(dirs.mount);
    rmSync(dirs.dir, { recursive: true, force: true });
  });
  t.same(await readInChild(join(dirs.mount, 't', 's1'), 10_000), Buffer.from('value 0'), 'served before the stress');

  // Readers: new names every round (each a real LOOKUP in the task's folder: a negative entry would be cached),
  // both secret names, and the folder's listing.
  const folder = join(dirs.mount, 't');
  for (let i = 0; i < READERS; i++) {
    readers.push(
      spawn('sh', ['-c', `i=0; while :; do i=$((i+1)); stat ${folder}/n${i}-$i; cat ${folder}/s1 ${folder}/s2; ls ${folder}; done >/dev/null 2>&1`], {
        stdio: 'ignore',
      }),
    );
  }
  for (let k = 1; k <= SWAPS; k++) {
    put(k);
    // Let the agent see most of the steps one by one (the watcher would otherwise fold them together).
    if (k % 4 === 0) await new Promise((r) => setTimeout(r, 2));
  }
  const last = SWAPS % 2 === 0 ? 's1' : 's2';
  const want = Buffer.from(`value ${SWAPS}`);
  let got: Buffer | null = null;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !(got && got.equals(want))) got = await readInChild(join(folder, last), 5_000);
  const applied = agent.logs().filter((l) => l.msg === 'task applied' && l.task === 't').length;
  if (!t.same(got, want, `after ${SWAPS} swaps under ${READERS} readers the mount answers with the last state`)) {
    t.comment(`frozen: ${applied} changes applied; agent state ${agent.proc.pid ? procState(agent.proc.pid) : '?'}`);
    return; // the teardown aborts the connection
  }
  const other = await readInChild(join(folder, last === 's1' ? 's2' : 's1'), 5_000);
  t.equal(other, null, 'and the other name is gone');
  // The watcher folds changes that come while one is applied; many separate applies mean many notifications.
  t.ok(applied >= 20, `the agent applied the changes one after another (${applied} applies for ${SWAPS} swaps)`);
  t.equal(await agent.stop('SIGTERM'), 0, 'and stops cleanly');
});
