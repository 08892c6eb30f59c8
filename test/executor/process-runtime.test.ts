// The process runtime behind the seam (agent/runtime/process.ts): a real task, its container view (inspect), exec
// as a host command into its namespaces, its output as events, removal.
import t from 'tap';
import { spawn } from 'node:child_process';
import { containerIdOf } from '../../shared/container-id.js';
import { createLogger } from '../../shared/log.js';
import { ProcessRuntime } from '../../agent/runtime/process.js';
import type { HostCommand } from '../../agent/runtime/runtime.js';
import { fuseSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';

function run(c: HostCommand): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(c.file, c.args, { env: c.env ?? {}, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, out }));
  });
}

t.test('a task as a container: inspect, exec, output, remove', fuseSkip(), async (t) => {
  const rt = new ProcessRuntime({ logger: createLogger('test', 'silent') });
  t.teardown(() => rt.stopAll());
  const output: string[] = [];
  rt.on('output', (o) => output.push(`${o.stream}:${o.chunk.toString('utf8')}`));
  const st = await rt.start({
    id: 'prt1', name: 'web.1.prt1', hostname: 'web-host', labels: { 'com.docker.swarm.task.id': 'prt1' }, user: '1000:1000', dir: '/tmp',
    env: ['A=1'], command: ['sh', '-c', 'echo ready; exec sleep 1d'],
  });
  t.equal(st.state, 'running');
  await waitFor('the task output', () => output.join('') === 'stdout:ready\n', { timeoutMs: 10_000 });
  const info = rt.inspect('prt1')!;
  t.match(info, {
    containerId: containerIdOf('prt1'), taskId: 'prt1', name: 'web.1.prt1', path: 'sh', args: ['-c', 'echo ready; exec sleep 1d'],
    user: '1000:1000', workingDir: '/tmp', hostname: 'web-host', labels: { 'com.docker.swarm.task.id': 'prt1' },
  });
  t.ok(info.pid !== undefined && info.startedAt !== undefined, 'running: its pid and start time');
  t.ok(info.env.includes('A=1'), 'its environment');
  t.ok(info.env.includes('HOSTNAME=web-host'), 'HOSTNAME set, as Docker does');

  const r = await run(rt.execCommand('prt1', { argv: ['sh', '-c', 'echo "$(hostname) $(id -u) $(pwd) $A $B"'], env: ['A=2', 'B=3'], tty: false }));
  t.same(r, { code: 0, out: 'web-host 1000 /tmp 2 3\n' }, "exec: the task's namespaces, user, folder; Env over the task's");
  const root = await run(rt.execCommand('prt1', { argv: ['id', '-u'], user: '0', workingDir: '/', tty: false }));
  t.equal(root.out, '0\n', 'exec with another user');
  await t.rejects(rt.remove('prt1'), /container is running/, 'a running task is not removed');

  await rt.stop('prt1');
  t.throws(() => rt.execCommand('prt1', { argv: ['true'], tty: false }), /not running/);
  t.ok(rt.inspect('prt1')?.finishedAt, 'stopped: its end time');
  await rt.remove('prt1');
  t.equal(rt.inspect('prt1'), undefined, 'removed: forgotten');
  t.equal(rt.status('prt1'), undefined);
});
