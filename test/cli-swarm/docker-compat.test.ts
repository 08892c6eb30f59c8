// The stock docker CLI and runsecrets, same arguments, same canned Engine API answers (fake-engine.ts, a client
// test fixture): the same requests (method, path, query, JSON body) and the same stdout, stderr and exit code.
import t, { type Test } from 'tap';
import { startFakeEngine, type FakeEngine, type Seen } from './fake-engine.js';
import { asOurs, findDocker, runDocker, runOurs, type Result } from './run.js';
import { scene } from './scene.js';

const docker = findDocker();

/** docker builds refs (create) and Env (update --env-add) from Go maps, in random order: compare them sorted. */
function normalize(seen: Seen[]): Seen[] {
  return seen.map((s) => {
    const body = s.body as { TaskTemplate?: { ContainerSpec?: Record<string, unknown> } } | null;
    const cs = body?.TaskTemplate?.ContainerSpec;
    if (cs) {
      for (const key of ['Secrets', 'Configs']) {
        const refs = cs[key];
        if (Array.isArray(refs)) refs.sort((a, b) => String(a.File?.Name).localeCompare(String(b.File?.Name)));
      }
      if (Array.isArray(cs.Env)) cs.Env.sort();
    }
    return s;
  });
}

async function same(t: Test, engine: FakeEngine, args: string[], what = args.join(' ')): Promise<{ d: Result; r: Result }> {
  engine.take();
  const d = asOurs(await runDocker(docker!, engine.host, args));
  const dSeen = normalize(engine.take());
  const r = await runOurs(engine.host, args);
  const rSeen = normalize(engine.take());
  t.same(rSeen, dSeen, `requests: ${what}`);
  t.same(r, d, `output: ${what}`);
  return { d, r };
}

if (!docker) {
  process.stderr.write('# SKIP docker comparison tests: the stock docker CLI is not installed\n');
  t.pass('skipped: no docker CLI');
} else {
  const engine = await startFakeEngine(scene());
  t.teardown(() => engine.close());

  t.test('service create: request bodies and errors', async (t) => {
    const c = (...a: string[]) => same(t, engine, ['service', 'create', ...a]);
    const full = await c(
      '-d', '--name', 'web2', '--no-resolve-image', '--secret', 'my_secret', '--secret', 'source=other,target=/etc/o,uid=100,gid=101,mode=0400',
      '--config', 'my_config', '--config', 'src=my_config,target=/c2,mode=0x1ff', '-e', 'A=1', '--env', 'B', '-w', '/w', '-u', '1000:1000', '--replicas', '2',
      '--constraint', 'node.role==worker', '--constraint', 'node.labels.zone!=b', '--restart-condition', 'on-failure', '--restart-delay', '10s',
      '--restart-max-attempts', '3', '--stop-grace-period', '1m30s', '-l', 'x=y', '--label', 'flag', 'alpine', 'sleep', '1d', '-x',
    );
    t.equal(full.r.stdout, 'newserviceid0000000000001\n');
    await c('--detach', '--no-resolve-image', 'alpine');
    await c('-d', '--no-resolve-image', '--mode', 'global', '--restart-condition', 'any', 'busybox:1.36', 'echo', 'a', 'b');
    await c('-d', '--no-resolve-image', '--mode=replicated', '--replicas=0', '--restart-delay', '1.5s', '--restart-max-attempts', '0x10', 'docker.io/library/nginx');
    await c('-d', '--no-resolve-image', '--secret', '"source=my_secret,target=with,comma"', 'alpine');
    await c('-d', '--no-resolve-image', '--env', 'A B=1', '-q', 'alpine');
    await c('-d', '--no-resolve-image', '--secret', 'source=my_secret,target=a', '--secret', 'source=my_secret,target=b', 'alpine');
    // Errors: client-side lookups, mode rules, flag values, arity.
    await c('-d', '--no-resolve-image', '--secret', 'nosuch', 'alpine');
    await c('-d', '--no-resolve-image', '--config', 'nosuch', 'alpine');
    await c('-d', '--no-resolve-image', '--secret', 'my_secret', '--secret', 'source=other,target=my_secret', 'alpine');
    await c('--mode', 'foo', 'alpine');
    await c('--mode', 'global', '--replicas', '2', 'alpine');
    for (const bad of [
      ['--secret', 'source='],
      ['--secret', 'target=x'],
      ['--secret', 'foo,bar'],
      ['--secret', '=x'],
      ['--secret', 'source=a,mode=abc'],
      ['--secret', 'source=a,mode=99999999999'],
      ['--secret', 'source=a,bogus=1'],
      ['--secret', '"a,b'],
      ['--config', 'source=a,Bogus=1'],
      ['--replicas', 'x'],
      ['--replicas', '-1'],
      ['--restart-delay', '10'],
      ['--restart-delay', 'abc'],
      ['--stop-grace-period', '1x'],
      ['--restart-max-attempts', 'x'],
      ['-l', '=x'],
      ['--label', 'a b=c'],
      ['-e', '=x'],
      ['--env', ''],
      ['--secret', ''],
    ]) {
      await c(...bad, 'alpine');
    }
    await c('-d');
  });

  t.test('service update and scale: read-modify-write', async (t) => {
    const u = (...a: string[]) => same(t, engine, ['service', 'update', ...a]);
    await u('-d', '--secret-rm', 'my_secret', '--secret-add', 'source=other,target=o2', '--env-add', 'C=3', '--replicas', '5', '--force', 'web');
    await u('-d', '--label-add', 'x=y', '--label-rm', 'tier', '--constraint-add', 'node.labels.zone==a', '--constraint-rm', 'node.role==worker',
      '--restart-max-attempts', '7', '--restart-condition', 'any', '--stop-grace-period', '30s', '-u', '0', '-w', '/tmp', '--env-rm', 'A', 'web');
    await u('-d', '--config-rm', 'my_config', '--config-add', 'source=my_config,target=/c,mode=0600', '--secret-add', 'my_secret_long', 'web');
    await u('-d', '--no-resolve-image', '--image', 'busybox', '--args', "sh -c 'sleep 1'", 'web');
    await u('-d', '--restart-delay', '2s', 'agent');
    await u('-d', '--replicas', '2', 'agent');
    await u('-d', '--secret-add', 'nosuch', 'web');
    await u('-d', '--force', 'nosuch');
    await u('-d');
    const s = (...a: string[]) => same(t, engine, ['service', 'scale', ...a]);
    await s('-d', 'web=5', 'cache-2=1');
    await s('-d', 'web=x', 'agent=2', 'nosuch=1', 'cache-10=0');
    await s('-d', 'web');
    await s();
  });

  t.test('service ls', async (t) => {
    const l = (...a: string[]) => same(t, engine, ['service', 'ls', ...a]);
    await l();
    await l('-q');
    await l('--format', '{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Ports}}');
    await l('--format', 'json');
    await l('--format', 'raw');
    await l('-f', 'name=cache', '--format', 'table {{.Name}}\t{{.Image}}');
    await l('list');
    await l('--format', '{{.Nope}}');
  });

  t.test('service ps: history rows, truncation, filters, formats', async (t) => {
    const p = (...a: string[]) => same(t, engine, ['service', 'ps', ...a]);
    await p('web');
    await p('web', 'agent');
    await p('--no-trunc', 'web');
    await p('-q', 'web');
    await p('--no-resolve', 'agent');
    await p('-f', 'desired-state=running', 'web');
    await p('-f', 'node=self', 'agent');
    await p('--format', '{{.Name}}|{{.Node}}|{{.Error}}', 'web');
    await p('--format', 'json', 'agent');
    await p('--format', 'raw', 'web');
    await p('webservice');
    await p('nosuch');
    await p('web', 'nosuch');
    await p('-f', 'bad', 'web');
    await p();
  });

  t.test('service inspect and rm', async (t) => {
    const i = (...a: string[]) => same(t, engine, ['service', 'inspect', ...a]);
    await i('web');
    await i('web', 'nosuch', 'agent');
    await i('--format', '{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}}', 'web', 'cache-2');
    await i('-f', 'json', 'agent');
    await i('--pretty', 'web');
    await i('--pretty', 'agent', 'cache-10');
    await i('--pretty', 'nosuch');
    await i('--pretty', '--format', '{{.ID}}', 'web');
    await i('--format', 'pretty {{.ID}}', 'web');
    await same(t, engine, ['service', 'rm', 'web', 'nosuch', 'agent']);
    await same(t, engine, ['service', 'remove']);
  });

  t.test('node ls, inspect, update, rm', async (t) => {
    const n = (...a: string[]) => same(t, engine, ['node', ...a]);
    await n('ls');
    await n('ls', '-q');
    await n('ls', '--format', '{{.Hostname}} {{.Self}} {{.ManagerStatus}} {{.TLSStatus}}');
    await n('ls', '--format', 'json');
    await n('inspect', 'self');
    await n('inspect', 'node-1-foo', 'nosuch');
    await n('inspect', '--format', '{{.Description.Hostname}}', 'self', IDS_NODE10);
    await n('inspect', '--pretty', 'self');
    await n('inspect', '--pretty', 'node-10-foo', 'node-1-foo');
    await n('update', '--availability', 'drain', '--label-add', 'a=b', '--label-add', 'c', 'node-1-foo');
    await n('update', '--label-rm', 'zone', '--role', 'worker', 'node-2-foo');
    await n('update', '--label-rm', 'nosuch', 'node-1-foo');
    await n('update', '--availability', 'pause', 'nosuch');
    await n('update', 'a', 'b');
    await n('rm', 'node-10-foo');
    await n('rm', '--force', 'node-10-foo', 'nosuch');
    await n('rm', '-f');
  });

  t.test('groups: unknown subcommands', async (t) => {
    await same(t, engine, ['service', 'bogus']);
    await same(t, engine, ['node', 'bogus']);
  });
}

const IDS_NODE10 = 'node10cccccccccccccccccc10';
