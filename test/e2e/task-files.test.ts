// Where a managed task's files are, seen from inside the task and on the agent's mount (agent/worker/placement.ts):
// /run/secrets lists the task's relative secrets (and, on the process runtime, its relative configs) and nothing
// else; an absolute target is bound at its place from the task's root-only files folder, never created on the
// host; the task's hostname is its container ID's first 12 characters, as Docker's.
import t from 'tap';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fuseSkip } from '../helpers/env.js';
import { startManager, request, type CliResult } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { waitFor } from '../helpers/wait.js';
import { containerIdOf } from '../../shared/container-id.js';

const skip = fuseSkip();

function ok(r: CliResult, what: string): CliResult {
  if (r.code !== 0) throw new Error(`${what} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return r;
}

t.test('task files: secrets alone at /run/secrets, absolute targets from the files folder', skip, async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';
  const m = await startManager({ t });
  const a = managedAgent({ managerPort: m.tcpPort, hostname: 'files-a' });
  // A target the host does not have: the task gets it in its own namespace only.
  const absTarget = `/etc/rs-task-files-${randomBytes(4).toString('hex')}`;
  t.teardown(async () => {
    await stopOrKill(a);
    await m.cleanup();
    rmSync(a.dir, { recursive: true, force: true });
  });
  await a.start(m.workerToken);
  ok(await m.cli(['secret', 'create', 'tf_pw', '-'], 'pw-bytes'), 'secret create tf_pw');
  ok(await m.cli(['secret', 'create', 'tf_abs', '-'], 'abs-bytes'), 'secret create tf_abs');
  ok(await m.cli(['config', 'create', 'tf_cfg', '-'], 'cfg-bytes'), 'config create tf_cfg');
  ok(await m.cli(['service', 'create', '--name', 'tf', '--secret', 'tf_pw', '--secret', `source=tf_abs,target=${absTarget}`,
    '--config', 'source=tf_cfg,target=app.conf', '--detach', 'none', 'sleep', '1d']), 'service create tf');
  const id = await waitFor('the task running', async () => {
    const ts = (await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['tf'] }))}`)).json as Array<{ ID: string; Status: { State: string } }>;
    const run = ts.find((x) => x.Status.State === 'running');
    if (!run) throw new Error(JSON.stringify(ts.map((x) => x.Status)));
    return run.ID;
  }, { timeoutMs: 30_000 });

  const ls = await a.exec(['tf.1', 'ls', '-A', '/run/secrets']);
  t.equal(ls.code, 0, ls.stderr);
  t.same(ls.stdout.trim().split('\n').sort(), ['app.conf', 'tf_pw'], '/run/secrets: the secret and (process runtime) the relative config, no folder of absolute targets');
  const abs = await a.exec(['tf.1', 'cat', absTarget]);
  t.equal(abs.stdout, 'abs-bytes', `${absTarget} inside the task (${abs.stderr})`);
  t.notOk(existsSync(absTarget), 'the absolute target was not created on the host');
  const host = await a.exec(['tf.1', 'hostname']);
  t.equal(host.stdout.trim(), containerIdOf(id).slice(0, 12), "the task's hostname: its container ID's first 12 characters");

  t.same(readdirSync(a.mount).sort(), [id, `${id}.files`].sort(), "the mount: the task's folder and its files folder");
  const files = statSync(join(a.mount, `${id}.files`));
  t.same([files.uid, files.mode & 0o777], [0, 0o500], "the files folder is root's");
  t.same(readdirSync(join(a.mount, id)).sort(), ['app.conf', 'tf_pw'], "the task's folder holds no absolute target");

  ok(await m.cli(['service', 'rm', 'tf']), 'service rm');
  await waitFor('both folders gone', () => readdirSync(a.mount).length === 0, { timeoutMs: 30_000 });
  t.pass('the task folder and its files folder are removed with the task');
});
