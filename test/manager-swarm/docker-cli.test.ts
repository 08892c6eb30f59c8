// The stock docker CLI against the manager's socket: service create with a secret, ls, inspect, ps, update
// --secret-rm, rm; `secret rm` refused with Docker's message while a service uses the secret.
import t from 'tap';
import { dockerCli } from '../helpers/docker-cli.js';
import { haveDocker, isRoot, startManager, type CliResult } from '../helpers/manager.js';

if (!isRoot() || !haveDocker()) {
  t.plan(0, `skipped: ${!isRoot() ? 'the manager runs as root; run the tests as root' : 'no docker CLI on PATH'}`);
  process.exit(0);
}

const m = await startManager({ tcp: false });
t.teardown(() => m.cleanup());
const cli = dockerCli();
t.teardown(() => cli.cleanup());

function docker(args: string[], input?: string): Promise<CliResult> {
  return cli.run(m.dockerHost, args, input);
}

t.test('docker service create/ls/inspect/ps, secret rm refused, update --secret-rm, rm', async (t) => {
  const sec = await docker(['secret', 'create', 'my_secret_data', '-'], 'hunter2');
  t.equal(sec.code, 0, sec.stderr);
  const created = await docker(['service', 'create', '--name', 'redis', '--secret', 'my_secret_data', '--no-resolve-image', '--detach', 'alpine', 'sleep', '1d']);
  t.equal(created.code, 0, created.stderr);
  const id = created.stdout.trim();
  t.match(id, /^[0-9a-z]{25}$/);

  const ls = await docker(['service', 'ls']);
  t.equal(ls.code, 0, ls.stderr);
  t.match(ls.stdout, /^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE\s+PORTS\n/);
  t.match(ls.stdout, new RegExp(`${id.slice(0, 12)}\\s+redis\\s+replicated\\s+0/1\\s+alpine`));

  const inspect = await docker(['service', 'inspect', 'redis']);
  t.equal(inspect.code, 0, inspect.stderr);
  const [svc] = JSON.parse(inspect.stdout) as { ID: string; Spec: { Name: string; TaskTemplate: { ContainerSpec: { Args: string[]; Secrets: { SecretName: string; File: { Name: string; Mode: number } }[] } } } }[];
  t.equal(svc!.ID, id);
  t.equal(svc!.Spec.Name, 'redis');
  t.same(svc!.Spec.TaskTemplate.ContainerSpec.Args, ['sleep', '1d']);
  t.match(svc!.Spec.TaskTemplate.ContainerSpec.Secrets, [{ SecretName: 'my_secret_data', File: { Name: 'my_secret_data', Mode: 0o444 } }]);

  // The orchestrator makes the task right after the create commits, asynchronously: look until it is there.
  let ps = await docker(['service', 'ps', '--no-trunc', 'redis']);
  for (let i = 0; i < 50 && ps.code === 0 && !/redis\.1\s/.test(ps.stdout); i++) {
    await new Promise((r) => setTimeout(r, 200));
    ps = await docker(['service', 'ps', '--no-trunc', 'redis']);
  }
  t.equal(ps.code, 0, ps.stderr);
  t.match(ps.stdout, /redis\.1\s+alpine\S*\s+Running\s+Pending .* ago\s+"no suitable node"/);

  const rm = await docker(['secret', 'rm', 'my_secret_data']);
  t.equal(rm.code, 1);
  t.match(rm.stderr, "Error response from daemon: rpc error: code = InvalidArgument desc = secret 'my_secret_data' is in use by the following service: redis");

  const upd = await docker(['service', 'update', '--secret-rm', 'my_secret_data', '--detach', 'redis']);
  t.equal(upd.code, 0, upd.stderr);
  t.equal((await docker(['secret', 'rm', 'my_secret_data'])).code, 0, 'free once no service uses it');
  const srm = await docker(['service', 'rm', 'redis']);
  t.equal(srm.code, 0, srm.stderr);
  t.equal((await docker(['service', 'ls', '-q'])).stdout, '');
  const nodes = await docker(['node', 'ls']);
  t.match(nodes.stdout, /\*\s+\S+\s+Ready\s+Active\s+Leader/);
});
