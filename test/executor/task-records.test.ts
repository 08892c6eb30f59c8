// The agent's task records (agent/executor/task-records.ts): what a next life of the agent kills, and what not.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { TASK_RECORDS_FILE, TaskRecords } from '../../agent/executor/task-records.js';
import { procStat } from '../../agent/executor/proc-stat.js';
import { createLogger } from '../../shared/log.js';
import { waitFor } from '../helpers/wait.js';

const log = createLogger('test', 'silent');
const alive = (pid: number): boolean => {
  const s = procStat(pid);
  return s !== null && s.state !== 'Z';
};

/** A "task": a detached shell (own session and group) with a child, as the executor starts them. */
function fakeTask(): number {
  const c = spawn('sh', ['-c', 'sleep 300 & wait'], { detached: true, stdio: 'ignore' });
  c.unref();
  return c.pid!;
}

t.test('a next life kills the recorded groups (children too), skips reused pids, keeps the file 0600', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-records-'));
  const pids: number[] = [];
  t.teardown(() => {
    for (const p of pids) {
      try {
        process.kill(-p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const a = fakeTask();
  const b = fakeTask();
  pids.push(a, b);
  // The child sleep of a, in a's group.
  const child = await waitFor('the task child', () => {
    for (const line of readFileSync(`/proc/${a}/task/${a}/children`, 'utf8').trim().split(' ')) if (line) return Number(line);
    return undefined;
  });
  const first = new TaskRecords(dir);
  first.add('task-a', a);
  first.add('task-b', b);
  t.equal(statSync(join(dir, TASK_RECORDS_FILE)).mode & 0o777, 0o600, 'records file is 0600');
  // b's record now names "another process" (a different start time): it must be left alone.
  const recs = JSON.parse(readFileSync(join(dir, TASK_RECORDS_FILE), 'utf8')) as Array<{ id: string; start: string }>;
  recs.find((r) => r.id === 'task-b')!.start = '1';
  writeFileSync(join(dir, TASK_RECORDS_FILE), JSON.stringify(recs));

  const next = new TaskRecords(dir);
  t.same(next.ids().sort(), ['task-a', 'task-b'], 'the next life sees both records');
  const r = await next.killPreviousLife(log);
  t.equal(r.left, 0, 'nothing left of the killed groups');
  t.notOk(alive(a), 'the recorded task process is gone');
  t.notOk(alive(child), "and its child in the task's group");
  t.ok(alive(b), 'a reused pid (other start time) is not killed');
  next.remove('task-a');
  next.remove('task-b');
  t.same(new TaskRecords(dir).ids(), [], 'removed records are gone from the file');
});
