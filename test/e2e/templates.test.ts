// Templated secrets and configs (`--template-driver golang`) with the stock docker CLI against a real manager and a
// real agent (process runtime): a config and a secret rendered per task with every context field and function,
// different per task (.Task.Slot); a template error failing the task with Docker's Err in `service ps --no-trunc`;
// a config that pulls a secret in by `secret` failing in a task not granted that secret, and the rendered bytes
// only on the agent's RAM-only mount, never on disk.
import t from 'tap';
import { readdirSync, readFileSync, lstatSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fuseSkipReason } from '../helpers/env.js';
import { haveDocker, request, startManager, waitFor, type CliResult } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { dockerCli } from '../helpers/docker-cli.js';
import { mountAt } from '../../agent/fs/mountinfo.js';
import { hostPlatform } from '../../agent/template/payload.js';

const skip = fuseSkipReason() || (!haveDocker() ? 'needs the docker CLI on PATH (Debian package docker-cli or docker.io)' : false);
if (skip) {
  t.comment(`SKIP templates e2e: ${skip}`);
  t.plan(0, `skipped: ${skip}`);
  process.exit(0);
}

process.env.RUNSECRETS_HEARTBEAT_MS = '500';

interface TaskJson {
  ID: string;
  Slot: number;
  NodeID: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

const m = await startManager({ t });
const agent = managedAgent({ managerPort: m.tcpPort, hostname: 'tpl-node', runtime: 'process' });
const cli = dockerCli();
t.teardown(async () => {
  await agent.cleanup();
  rmSync(agent.dir, { recursive: true, force: true });
  cli.cleanup();
});
await agent.start(m.workerToken);

const docker = async (args: string[], input?: string): Promise<CliResult> => {
  const r = await cli.run(m.dockerHost, args, input);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return r;
};
const tasksOf = async (service: string): Promise<TaskJson[]> =>
  (await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`)).json as TaskJson[];
const cat = async (task: string, path: string): Promise<string> => {
  const r = await agent.exec([task, 'cat', path]);
  if (r.code !== 0) throw new Error(`cat ${path} in ${task}: ${r.stderr}`);
  return r.stdout;
};

// A value found nowhere else: what must never be on disk.
const PW = `pw-${randomBytes(12).toString('hex')}`;

const CONF = [
  'service={{.Service.ID}} {{.Service.Name}} {{.Service.Labels.tier}}',
  'node={{.Node.ID}} {{.Node.Hostname}} {{.Node.Platform.OS}} {{.Node.Platform.Architecture}}',
  'task={{.Task.ID}} {{.Task.Name}} {{.Task.Slot}}',
  'env={{env "DB_USER"}} config={{config "plain"}} secret={{secret "db_pw"}}',
  '{{range $k, $v := .Service.Labels}}{{$k}}={{$v}};{{end}}',
].join('\n');

t.test('a templated config and secret, rendered per task with every field and function', async (t) => {
  await docker(['secret', 'create', 'db_pw', '-'], PW);
  await docker(['config', 'create', 'plain_cfg', '-'], 'PLAIN');
  await docker(['config', 'create', '--template-driver', 'golang', 'tpl_conf', '-'], CONF);
  await docker(['secret', 'create', '--template-driver', 'golang', 'tpl_dsn', '-'], 'postgres://{{env "DB_USER"}}:{{secret "db_pw"}}@db/{{printf "%s-%s" .Service.Name .Task.Slot}}');
  const insp = await docker(['config', 'inspect', '--format', '{{json .Spec.Templating}}', 'tpl_conf']);
  t.same(JSON.parse(insp.stdout), { Name: 'golang' }, 'the config keeps its driver');

  await docker(['service', 'create', '--name', 'tpl', '--replicas', '2', '--label', 'tier=front', '--label', 'team=ops', '--env', 'DB_USER=alice',
    '--secret', 'db_pw', '--secret', 'source=tpl_dsn,target=dsn', '--config', 'source=tpl_conf,target=app.conf', '--config', 'source=plain_cfg,target=plain',
    '--detach', '--no-resolve-image', 'alpine:3.19', 'sleep', '1d']);
  const tasks = await waitFor(async () => {
    const all = await tasksOf('tpl');
    const r = all.filter((x) => x.Status.State === 'running' && x.DesiredState === 'running');
    if (r.length !== 2) throw new Error(JSON.stringify(all.map((x) => [x.Slot, x.DesiredState, x.Status])));
    return r;
  }, 'both tasks running', 60_000);
  const svcId = ((await request(m.socket, 'GET', '/services/tpl')).json as { ID: string }).ID;
  const { os, architecture } = hostPlatform();
  for (const task of tasks) {
    const name = `tpl.${task.Slot}.${task.ID}`;
    t.equal(await cat(task.ID, '/run/secrets/app.conf'), [
      `service=${svcId} tpl front`,
      `node=${task.NodeID} tpl-node ${os} ${architecture}`,
      `task=${task.ID} ${name} ${task.Slot}`,
      `env=alice config=PLAIN secret=${PW}`,
      'team=ops;tier=front;',
    ].join('\n'), `the config rendered for slot ${task.Slot}`);
    t.equal(await cat(task.ID, '/run/secrets/dsn'), `postgres://alice:${PW}@db/tpl-${task.Slot}`, `the secret rendered for slot ${task.Slot}`);
  }
  const stored = await docker(['config', 'inspect', '--format', '{{printf "%s" .Spec.Data}}', 'tpl_conf']);
  t.equal(stored.stdout.trim(), CONF, 'the stored config is the template, unchanged');
});

t.test('a template error fails the task with Docker\'s Err in service ps', async (t) => {
  await docker(['config', 'create', '--template-driver', 'golang', 'tpl_bad', '-'], 'line one\nx={{.Service.Nope}}');
  await docker(['service', 'create', '--name', 'tplbad', '--restart-condition', 'none', '--config', 'source=tpl_bad,target=bad.conf', '--detach', '--no-resolve-image', 'alpine:3.19', 'sleep', '1d']);
  const task = await waitFor(async () => (await tasksOf('tplbad')).find((x) => x.Status.State === 'failed') ?? null, 'the task failed');
  const cfgId = ((await request(m.socket, 'GET', '/configs/tpl_bad')).json as { ID: string }).ID;
  const err = `starting container failed: unable to get config from config store: failed to expand templated config ${cfgId}: template: expansion:2:4: executing "expansion" at <.Service.Nope>: can't evaluate field Nope in type struct { ID string; Name string; Labels map[string]string }`;
  t.equal(task.Status.Err, err, "the task's Err");
  const ps = await docker(['service', 'ps', '--no-trunc', 'tplbad']);
  t.ok(ps.stdout.includes(err), `service ps --no-trunc shows it:\n${ps.stdout}`);
  t.match(ps.stdout, /Failed/, 'the task is Failed');
});

t.test('a secret pulled into a config by `secret` reaches only tasks granted it, and never disk', async (t) => {
  await docker(['config', 'create', '--template-driver', 'golang', 'tpl_pw', '-'], 'pw={{secret "db_pw"}}');
  await docker(['service', 'create', '--name', 'tplnopw', '--restart-condition', 'none', '--config', 'source=tpl_pw,target=pw.conf', '--detach', '--no-resolve-image', 'alpine:3.19', 'sleep', '1d']);
  await docker(['service', 'create', '--name', 'tplpw', '--secret', 'db_pw', '--config', 'source=tpl_pw,target=pw.conf', '--detach', '--no-resolve-image', 'alpine:3.19', 'sleep', '1d']);
  const failed = await waitFor(async () => (await tasksOf('tplnopw')).find((x) => x.Status.State === 'failed') ?? null, 'the task without the secret failed');
  t.match(failed.Status.Err, /failed to expand templated config \w+: template: expansion:1:5: executing "expansion" at <secret "db_pw">: error calling secret: secret target db_pw not found$/);
  t.notOk(failed.Status.Err?.includes(PW), 'the error holds no secret byte');
  const ok = await waitFor(async () => (await tasksOf('tplpw')).find((x) => x.Status.State === 'running' && x.DesiredState === 'running') ?? null, 'the task with the secret running', 60_000);
  t.equal(await cat(ok.ID, '/run/secrets/pw.conf'), `pw=${PW}`, 'the task granted the secret reads it through the config');
  t.notOk(readdirSync(agent.mount).includes(failed.ID), 'the failed task has no folder on the mount');

  t.ok(mountAt(agent.mount), 'the rendered files are on the FUSE mount (RAM only)');
  t.ok(readFileSync(join(agent.mount, ok.ID, 'pw.conf')).toString() === `pw=${PW}`, "the rendered config sits in the task's folder on the mount");
  // Every file of the agent's directory but the mount (its state, its logs): none holds the secret.
  const found: string[] = [];
  const scan = (dir: string): void => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (p === agent.mount) continue;
      const st = lstatSync(p);
      if (st.isDirectory()) scan(p);
      else if (st.isFile() && readFileSync(p).includes(PW)) found.push(p);
    }
  };
  scan(agent.dir);
  scan(m.dir);
  t.same(found, [], "no file of the agent's or the manager's directories holds the secret");
});

t.test('ContainerSpec templating: --hostname and --env expanded per task; an error rejects the task', async (t) => {
  await docker(['service', 'create', '--name', 'tplspec', '--replicas', '2', '--hostname', '{{.Node.Hostname}}-{{.Task.Slot}}', '--env', 'WHO={{.Service.Name}}.{{.Task.Slot}}',
    '--detach', '--no-resolve-image', 'alpine:3.19', 'sleep', '1d']);
  const tasks = await waitFor(async () => {
    const r = (await tasksOf('tplspec')).filter((x) => x.Status.State === 'running' && x.DesiredState === 'running');
    return r.length === 2 ? r : null;
  }, 'both tasks running', 60_000);
  for (const task of tasks) {
    const h = await agent.exec([task.ID, 'hostname']);
    t.equal(h.stdout.trim(), `tpl-node-${task.Slot}`, `slot ${task.Slot}: its hostname (${h.stderr})`);
    const e = await agent.exec([task.ID, 'printenv', 'WHO']);
    t.equal(e.stdout.trim(), `tplspec.${task.Slot}`, `slot ${task.Slot}: its env (${e.stderr})`);
  }
  await docker(['service', 'create', '--name', 'tplspecbad', '--restart-condition', 'none', '--env', 'X={{.Nope}}', '--detach', '--no-resolve-image', 'alpine:3.19', 'sleep', '1d']);
  const bad = await waitFor(async () => (await tasksOf('tplspecbad')).find((x) => x.Status.State === 'rejected') ?? null, 'the task rejected');
  const err = 'expanding env failed: expanding env "X={{.Nope}}": template: expansion:1:2: executing "expansion" at <.Nope>: can\'t evaluate field Nope in type *template.Context';
  t.equal(bad.Status.Err, err);
  const ps = await docker(['service', 'ps', '--no-trunc', 'tplspecbad']);
  t.ok(ps.stdout.includes(err) && /Rejected/.test(ps.stdout), `service ps --no-trunc shows it:\n${ps.stdout}`);
});
