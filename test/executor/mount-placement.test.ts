// Where a task's absolute targets may go, on real mounts: a target whose parent folder holds another secrets mount
// (another agent's, or the task's own agent's) is bound and stays visible, as every other secrets mount is hidden
// before any bind is made; a target inside a secrets mount is refused with a clear reason, never run without.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseSkip } from '../helpers/env.js';
import { startAgent, tempDirs, forceUnmount, type AgentProc } from '../helpers/agent.js';
import { testExecutor } from '../helpers/executor.js';

t.test('absolute targets next to and inside secrets mounts', fuseSkip(), async (t) => {
  const own = tempDirs('rs-place-');
  writeFileSync(join(own.tasksDir, 'pw.bin'), 'placed-bytes');
  writeFileSync(join(own.tasksDir, 'web.yaml'), ['uid: 1000', 'gid: 1000', 'secrets:', '  - { file: ./pw.bin, target: pw, uid: 1000, gid: 1000, mode: "0400" }'].join('\n'));
  const other = tempDirs('rs-place-other-');
  writeFileSync(join(other.tasksDir, 'x.bin'), 'other-agent-bytes');
  writeFileSync(join(other.tasksDir, 'x.yaml'), ['uid: 1000', 'gid: 1000', 'secrets:', '  - { file: ./x.bin, target: x, uid: 1000, gid: 1000, mode: "0400" }'].join('\n'));
  // A plain folder holding a tmpfs and another agent's mount: the overlay that makes the target's mount point
  // must not take the task's bind along when the other agent's mount is hidden.
  const shared = join(other.dir, 'shared');
  mkdirSync(join(shared, 'tmp'), { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'rs-test-place', join(shared, 'tmp')]);
  const te = testExecutor();
  let a: AgentProc | undefined;
  let b: AgentProc | undefined;
  t.teardown(async () => {
    await te.ex.stopAll();
    await a?.stop();
    await b?.stop();
    forceUnmount(own.mount);
    forceUnmount(other.mount);
    execFileSync('umount', ['-l', join(shared, 'tmp')]);
    rmSync(own.dir, { recursive: true, force: true });
    rmSync(other.dir, { recursive: true, force: true });
  });
  a = await startAgent(own);
  b = await startAgent(other);
  const web = join(own.mount, 'web');

  const run = async (id: string, target: string) => {
    const s = await te.run({
      id,
      command: ['sh', '-c', `cat "$0"; echo; echo "other: $(ls -A "${other.mount}" 2>&1)"; echo "own: $(ls -A "${own.mount}" 2>&1)"`, target],
      user: '1000:1000',
      secretsDir: web,
      absoluteMounts: [{ source: 'pw', target }],
    });
    return { s, out: te.ex.output(id)!.stdout.toString() };
  };

  for (const [name, target] of [
    ['a folder holding another agent\'s secrets mount and a tmpfs', join(other.dir, 'key')],
    ['a folder holding that and another mount, one level down', join(shared, 'key')],
    ["the folder holding the task's own agent's mount", join(own.dir, 'key')],
  ] as const) {
    await t.test(`target in ${name}: bound, and it stays visible`, async (t) => {
      const { s, out } = await run(`ok-${name.length}-${target.length}`, target);
      t.equal(s.state, 'complete', String(s.err));
      const [bytes, otherLs, ownLs] = out.split('\n');
      t.equal(bytes, 'placed-bytes', 'the task reads its secret at the target');
      t.equal(otherLs, 'other: ', "the other agent's mount shows nothing inside the task");
      t.equal(ownLs, 'own: ', "nor does the task's own agent's mount (only its binds remain)");
    });
  }

  for (const [name, target] of [
    ["another agent's secrets mount", join(other.mount, 'key')],
    ["a folder of another agent's secrets mount", join(other.mount, 'x', 'key')],
    ["the task's own agent's mount", join(own.mount, 'key')],
  ] as const) {
    await t.test(`target inside ${name}: rejected with the reason`, async (t) => {
      const { s } = await run(`bad-${name.length}-${target.length}`, target);
      t.equal(s.state, 'rejected');
      t.match(s.err, /^invalid mount target ".*": it is inside the secrets mount ".*"$/);
    });
  }
});
