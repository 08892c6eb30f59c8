// Secret bytes on the agent: exactly one copy while granted (our Buffer), none once revoked or replaced.
// Scans the agent process's whole memory (/proc/PID/mem, as root) for a random marker.
import t from 'tap';
import { writeFileSync, readFileSync, renameSync, rmSync, unlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fuseSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';
import { startAgent, tempDirs, forceUnmount } from '../helpers/agent.js';
import { countInMemory } from '../helpers/memscan.js';

t.test('no copy of a secret survives in the agent after revoke or rotation', fuseSkip(), async (t) => {
  const d = tempDirs();
  const agent = await startAgent(d);
  t.teardown(async () => {
    await agent.stop();
    forceUnmount(d.mount);
    rmSync(d.dir, { recursive: true, force: true });
  });
  const pid = agent.proc.pid!;
  const marker = (label: string) => Buffer.from(`${label}-${randomBytes(24).toString('hex')}`);
  const first = marker('first');
  const second = marker('second');
  const src = join(d.tasksDir, 's.bin');
  writeFileSync(src, first);
  writeFileSync(join(d.tasksDir, 'w.yaml'), 'secrets:\n  - { file: ./s.bin, target: s }\n');
  const file = join(d.mount, 'w/s');
  await waitFor('granted', () => existsSync(file) && readFileSync(file).equals(first));
  for (let i = 0; i < 20; i++) readFileSync(file);
  t.equal(countInMemory(pid, first), 1, 'while granted: exactly one copy, the agent-owned Buffer');

  writeFileSync(`${src}.new`, second);
  renameSync(`${src}.new`, src);
  await waitFor('rotated', () => readFileSync(file).equals(second));
  await waitFor('old version zeroed once the kernel forgets it', () => countInMemory(pid, first) === 0, { timeoutMs: 10000, intervalMs: 100 });
  t.pass('after rotation: no copy of the old bytes');
  t.equal(countInMemory(pid, second), 1, 'one copy of the new bytes');

  const logsFrom = agent.logs().length;
  unlinkSync(join(d.tasksDir, 'w.yaml'));
  await waitFor('revoked', () => !existsSync(join(d.mount, 'w')));
  t.equal(countInMemory(pid, second), 0, 'after revoke: no copy at all, at once');
  await agent.waitLog((l) => l.msg === 'task removed', logsFrom); // the last line of this story, read
  t.notOk(JSON.stringify(agent.logs()).includes(second.toString()), 'never in a log line');
});
