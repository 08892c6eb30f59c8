// `docker stack deploy|ls|services|ps|rm` with the stock docker CLI against a real manager and a real agent (tasks on
// the process runtime): a compose file whose services use secrets and configs in short and long syntax, created by
// deploy (`file:`) or beforehand (`external: true`, with and without `name:`), a user network and the default one.
// Checks the names and labels deploy creates, what each task reads, that a redeploy changes nothing, and that
// `stack rm --detach=false` waits and leaves nothing of the stack.
import t from 'tap';
import { mkdtempSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { fuseSkipReason } from '../helpers/env.js';
import { haveDocker, request, startManager, waitFor, type CliResult } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { dockerCli } from '../helpers/docker-cli.js';

const skip = fuseSkipReason() || (!haveDocker() ? 'needs the docker CLI on PATH (Debian package docker-cli or docker.io)' : false);
if (skip) {
  t.comment(`SKIP stack e2e: ${skip}`);
  t.plan(0, `skipped: ${skip}`);
  process.exit(0);
}

process.env.RUNSECRETS_HEARTBEAT_MS = '500';
const COMPOSE = fileURLToPath(new URL('../fixtures/stack/compose.yml', import.meta.url));

interface Labeled {
  ID: string;
  Spec: { Name: string; Labels: Record<string, string> | null };
}
interface TaskJson {
  ID: string;
  ServiceID: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
  Spec: { Networks?: { Target: string; Aliases?: string[] }[]; ContainerSpec: { Labels?: Record<string, string> } };
}

const read = (p: string): string | null => {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return null;
  }
};

const m = await startManager({ t });
const agent = managedAgent({ managerPort: m.tcpPort, hostname: 'stack-node' });
const out = mkdtempSync(join(tmpdir(), 'rs-stack-out-'));
chmodSync(out, 0o777);
const cli = dockerCli();
t.teardown(async () => {
  await agent.cleanup();
  rmSync(agent.dir, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  cli.cleanup();
});
await agent.start(m.workerToken);

// The compose file's variables come from the CLI's environment.
process.env.STACK_OUT = out;
process.env.STACK_IMAGE = 'alpine:3.19';
const docker = (args: string[], input?: string): Promise<CliResult> => cli.run(m.dockerHost, args, input);
const get = async <T>(path: string): Promise<T> => (await request(m.socket, 'GET', path)).json as T;
const label = (l: string): string => encodeURIComponent(JSON.stringify({ label: { [l]: true } }));
const stackTasks = (): Promise<TaskJson[]> => get<TaskJson[]>(`/tasks?filters=${label('com.docker.stack.namespace=app')}`);
const running = async (): Promise<TaskJson[]> => (await stackTasks()).filter((x) => x.Status.State === 'running' && x.DesiredState === 'running');

t.test('stack deploy creates networks, secrets, configs and services with Docker names and labels', async (t) => {
  t.equal((await docker(['secret', 'create', 'prod_api_key', '-'], 'api-key-123')).code, 0, 'external secret (name:) created beforehand');
  t.equal((await docker(['config', 'create', 'shared_cfg', '-'], 'shared=1')).code, 0, 'external config created beforehand');

  const dep = await docker(['stack', 'deploy', '--resolve-image', 'never', '-c', COMPOSE, 'app']);
  t.equal(dep.code, 0, dep.stderr);
  for (const line of ['Creating network app_back', 'Creating network app_default', 'Creating secret app_db_pw', 'Creating config app_app_conf', 'Creating service app_web', 'Creating service app_worker']) {
    t.match(dep.stdout, line, line);
  }
  t.notMatch(dep.stdout, /prod_api_key|shared_cfg/, 'external objects are not created');

  const nets = await get<{ Name: string; Id: string; Driver: string; Scope: string; Labels: Record<string, string> }[]>(`/networks?filters=${label('com.docker.stack.namespace=app')}`);
  t.same(nets.map((n) => n.Name).sort(), ['app_back', 'app_default']);
  const back = nets.find((n) => n.Name === 'app_back')!;
  t.match(back, { Driver: 'overlay', Scope: 'swarm', Labels: { 'com.docker.stack.namespace': 'app', 'com.example.net': 'back' } });

  const secret = await get<Labeled>('/secrets/app_db_pw');
  t.same(secret.Spec.Labels, { 'com.docker.stack.namespace': 'app', 'com.example.kind': 'password' }, 'file secret: compose labels + namespace');
  const config = await get<Labeled>('/configs/app_app_conf');
  t.same(config.Spec.Labels, { 'com.docker.stack.namespace': 'app' });
  t.same((await get<Labeled>('/secrets/prod_api_key')).Spec.Labels, null, 'external secret keeps no labels');

  const web = await get<Labeled & { Spec: { TaskTemplate: { Networks: { Target: string; Aliases: string[] }[]; ContainerSpec: { Labels: Record<string, string>; Secrets: { SecretName: string; File: { Name: string; Mode: number } }[]; Configs: { ConfigName: string; File: { Name: string } }[] } } } }>('/services/app_web');
  t.same(web.Spec.Labels, { 'com.docker.stack.namespace': 'app', 'com.docker.stack.image': 'alpine:3.19', 'com.example.tier': 'web' });
  t.same(web.Spec.TaskTemplate.ContainerSpec.Labels, { 'com.docker.stack.namespace': 'app', 'com.example.role': 'front' });
  t.match(web.Spec.TaskTemplate.ContainerSpec.Secrets, [
    { SecretName: 'app_db_pw', File: { Name: 'db_pw', Mode: 0o444 } },
    { SecretName: 'prod_api_key', File: { Name: 'api.key', Mode: 0o400 } },
  ]);
  t.match(web.Spec.TaskTemplate.ContainerSpec.Configs, [
    { ConfigName: 'app_app_conf', File: { Name: 'app_conf' } },
    { ConfigName: 'shared_cfg', File: { Name: 'shared.cfg' } },
  ]);
  const dflt = (await get<{ Id: string }>('/networks/app_default')).Id;
  t.same(web.Spec.TaskTemplate.Networks, [{ Target: dflt, Aliases: ['web'] }], 'attachment kept, target resolved to the network ID');
  const svcInspect = await docker(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.Networks}}', 'app_worker']);
  t.same(JSON.parse(svcInspect.stdout), [{ Target: back.Id, Aliases: ['worker'] }], 'service inspect shows the attachment');
});

t.test('tasks run and read their files; stack ls, services and ps', async (t) => {
  const tasks = await waitFor(async () => {
    const r = await running();
    return r.length === 2 ? r : null;
  }, 'both stack tasks running');
  await waitFor(() => read(join(out, 'web.shared.cfg')) !== null && read(join(out, 'worker.db_pw')) !== null, 'the tasks to write what they read');
  t.equal(read(join(out, 'web.db_pw')), 's3cret-db', 'file secret, short syntax: /run/secrets/db_pw');
  t.equal(read(join(out, 'web.api.key')), 'api-key-123', 'external secret with name:, long syntax: /run/secrets/api.key');
  t.equal(read(join(out, 'web.app_conf')), 'listen 8080', 'file config, short syntax (process runtime: in the task folder)');
  t.equal(read(join(out, 'web.shared.cfg')), 'shared=1', 'external config, long syntax');
  t.equal(read(join(out, 'worker.db_pw')), 's3cret-db');
  const worker = tasks.find((x) => x.Spec.Networks?.length)!;
  t.ok(worker, 'the task spec carries its network attachments');
  t.match(worker.Spec.ContainerSpec.Labels, { 'com.docker.stack.namespace': 'app' });

  const ls = await docker(['stack', 'ls']);
  t.equal(ls.code, 0, ls.stderr);
  t.match(ls.stdout, /^NAME\s+SERVICES\napp\s+2\n$/);
  const svcs = await docker(['stack', 'services', 'app']);
  t.equal(svcs.code, 0, svcs.stderr);
  t.match(svcs.stdout, /app_web\s+replicated\s+1\/1\s+alpine:3\.19/);
  t.match(svcs.stdout, /app_worker\s+replicated\s+1\/1\s+alpine:3\.19/);
  const ps = await docker(['stack', 'ps', '--no-trunc', 'app']);
  t.equal(ps.code, 0, ps.stderr);
  for (const x of tasks) t.match(ps.stdout, new RegExp(`${x.ID}\\s+app_(web|worker)\\.1\\s+alpine:3\\.19\\s+stack-node\\s+Running\\s+Running`), `stack ps lists ${x.ID}`);
  const none = await docker(['stack', 'ps', 'nosuch']);
  t.equal(none.code, 1);
  t.match(none.stderr, 'nothing found in stack: nosuch');
});

t.test('a redeploy is idempotent: nothing recreated, services updated in place, tasks kept', async (t) => {
  const before = await running();
  const pid = read(join(out, 'web.pid'));
  const ids = async (): Promise<string[]> =>
    [
      ...(await get<{ Id: string }[]>('/networks')).map((n) => n.Id),
      ...(await get<{ ID: string }[]>('/secrets')).map((s) => s.ID),
      ...(await get<{ ID: string }[]>('/configs')).map((s) => s.ID),
      ...(await get<{ ID: string }[]>('/services')).map((s) => s.ID),
    ].sort();
  const objects = await ids();
  const dep = await docker(['stack', 'deploy', '--resolve-image', 'never', '-c', COMPOSE, 'app']);
  t.equal(dep.code, 0, dep.stderr);
  t.notMatch(dep.stdout, /Creating/, 'nothing created');
  t.match(dep.stdout, /Updating service app_web \(id: \w+\)/);
  t.match(dep.stdout, /Updating service app_worker \(id: \w+\)/);
  t.same(await ids(), objects, 'the same networks, secrets, configs and services');
  // Runs of the orchestrator each read the whole state: once the scale-up below (a later write) has its new task,
  // any replacement the redeploy called for would have been planned too.
  t.equal((await docker(['service', 'scale', '--detach', 'app_worker=2'])).code, 0);
  await waitFor(async () => (await stackTasks()).length === 3, 'the task of the scale-up');
  const after = await stackTasks();
  for (const b of before) t.ok(after.some((x) => x.ID === b.ID && x.DesiredState === 'running'), `task ${b.ID} kept, still desired running`);
  t.equal(read(join(out, 'web.pid')), pid, 'the task process was not restarted');
});

t.test('network rm is refused while the stack uses it; stack rm --detach=false waits and leaves nothing', async (t) => {
  const rmNet = await docker(['network', 'rm', 'app_back']);
  t.equal(rmNet.code, 1);
  t.match(rmNet.stderr, /Error response from daemon: rpc error: code = FailedPrecondition desc = network \w+ is in use by service \w+/);

  const rm = await docker(['stack', 'rm', '--detach=false', 'app']);
  t.equal(rm.code, 0, rm.stderr);
  for (const line of ['Removing service app_web', 'Removing service app_worker', 'Removing secret app_db_pw', 'Removing config app_app_conf', 'Removing network app_back', 'Removing network app_default']) {
    t.match(rm.stdout, line, line);
  }
  // It waited: docker's loop ends when its count of polls that saw a stopped task equals the number of tasks
  // listed; stopped tasks of removed services are not listed, so it ends only once none is left running.
  const left = await stackTasks();
  t.same(left.map((x) => `${x.ID} ${x.Status.State}`), [], 'no task of the stack left running when stack rm returned');
  t.same(await get<unknown[]>('/services'), []);
  t.same((await get<{ Name: string }[]>('/networks')).map((n) => n.Name).sort(), ['bridge', 'host', 'ingress', 'none'], 'only the predefined networks');
  t.same((await get<{ Spec: { Name: string } }[]>('/secrets')).map((s) => s.Spec.Name), ['prod_api_key'], 'the external secret stays');
  t.same((await get<{ Spec: { Name: string } }[]>('/configs')).map((s) => s.Spec.Name), ['shared_cfg'], 'the external config stays');
  const ps = await docker(['stack', 'ps', 'app']);
  t.match(ps.stderr, 'nothing found in stack: app');
  const again = await docker(['stack', 'rm', 'app']);
  t.equal(again.code, 0);
  t.match(again.stderr, 'Nothing found in stack: app');
});
