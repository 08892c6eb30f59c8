// `runsecrets stack deploy|ls|rm` (cli/stack/): the compose loader (interpolation, shell-form commands, both
// reference syntaxes, errors), then the commands against a real manager: the same names, labels and references as
// `docker stack deploy` makes (test/e2e/stack.test.ts), an idempotent redeploy, and rm leaving nothing.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadComposeFile, shellSplit } from '../../cli/stack/compose-file.js';
import { interpolate } from '../../cli/stack/interpolate.js';
import { isRoot, request, startManager, waitFor } from '../helpers/manager.js';

const COMPOSE = fileURLToPath(new URL('../fixtures/stack/compose.yml', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'rs-stack-cli-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(scratch, name);
  writeFileSync(p, text);
  return p;
};

t.test('interpolation and shell-form commands', async (t) => {
  const env = { A: 'x', E: '' };
  t.equal(interpolate('$A ${A} ${B:-d} ${E:-d} ${E-d} $$A', env, 'f'), 'x x d d  $A');
  t.equal(interpolate('${B}', env, 'f'), '', 'unset: empty');
  t.throws(() => interpolate('${B:?needed}', env, 'f'), { message: 'required variable B is missing a value: needed' });
  t.throws(() => interpolate('${A', env, 'f'), { message: 'invalid interpolation format for f: "${A"; you may need to escape any $ with another $' });
  t.same(shellSplit(`sh -c 'echo "a b"' "c d" e\\ f`, 'cmd'), ['sh', '-c', 'echo "a b"', 'c d', 'e f']);
  t.throws(() => shellSplit(`echo 'x`, 'cmd'), { message: 'cmd: unterminated quote' });
});

t.test('the loader: short and long references, files, external, name, unsupported keys', async (t) => {
  const c = loadComposeFile(COMPOSE, { STACK_OUT: '/o', STACK_IMAGE: 'img:1' });
  const web = c.services.find((s) => s.key === 'web')!;
  t.equal(web.image, 'img:1');
  t.same(web.secrets, [
    { source: 'db_pw', target: null, uid: null, gid: null, mode: null },
    { source: 'api_key', target: 'api.key', uid: null, gid: null, mode: 0o400 },
  ], 'mode: 0400 is octal, as docker reads it');
  t.equal(web.networks, null, 'no networks: the default one');
  t.same(c.services.find((s) => s.key === 'worker')!.networks, [{ key: 'back', aliases: [] }]);
  t.match(c.secrets.find((s) => s.key === 'db_pw'), { file: join(fileURLToPath(new URL('../fixtures/stack/', import.meta.url)), 'db_pw.txt'), external: false });
  t.match(c.secrets.find((s) => s.key === 'api_key'), { external: true, name: 'prod_api_key' });
  const odd = loadComposeFile(file('odd.yml', 'services:\n  a:\n    image: x\n    build: .\n    ports: ["80:80"]\n    command: sleep 10\n'), {});
  t.same(odd.unsupported, ['build', 'ports']);
  t.same(odd.services[0]!.command, ['sleep', '10']);
  t.throws(() => loadComposeFile(file('nofile.yml', 'secrets:\n  s: {}\n'), {}), { message: 'secret s: runsecrets stack deploy needs "file:" or "external: true"' });
  t.throws(() => loadComposeFile(file('noimage.yml', 'services:\n  a: {}\n'), {}), { message: 'services.a: image is required (runsecrets stack deploy does not build)' });
});

if (!isRoot()) {
  t.test('commands against a manager', { skip: 'the manager runs as root (its socket and state are root-only); run the tests as root' }, async () => undefined);
} else {
  t.test('deploy, redeploy, ls, rm against a manager', async (t) => {
    const m = await startManager({ tcp: false, t });
    // The compose file's variables come from the CLI's environment (m.cli passes ours on).
    process.env.STACK_OUT = scratch;
    process.env.STACK_IMAGE = 'alpine:3.19';
    const rs = (args: string[], input?: string): ReturnType<typeof m.cli> => m.cli(args, input);
    const get = async <T>(path: string): Promise<T> => (await request(m.socket, 'GET', path)).json as T;
    t.equal((await rs(['secret', 'create', 'prod_api_key', '-'], 'k')).code, 0);
    t.equal((await rs(['config', 'create', 'shared_cfg', '-'], 'c')).code, 0);

    const dep = await rs(['stack', 'deploy', '-c', COMPOSE, 'app']);
    t.equal(dep.code, 0, dep.stderr);
    t.same(dep.stdout.split('\n').filter(Boolean).sort(), [
      'Creating config app_app_conf',
      'Creating network app_back',
      'Creating network app_default',
      'Creating secret app_db_pw',
      'Creating service app_web',
      'Creating service app_worker',
    ]);
    t.same((await get<{ Spec: { Labels: Record<string, string> } }>('/secrets/app_db_pw')).Spec.Labels, { 'com.docker.stack.namespace': 'app', 'com.example.kind': 'password' });
    const web = await get<{ Spec: Record<string, unknown> & { TaskTemplate: { ContainerSpec: Record<string, unknown>; Networks: unknown[] } } }>('/services/app_web');
    t.same(web.Spec.Labels, { 'com.docker.stack.namespace': 'app', 'com.docker.stack.image': 'alpine:3.19', 'com.example.tier': 'web' });
    t.same(web.Spec.TaskTemplate.ContainerSpec.Labels, { 'com.docker.stack.namespace': 'app', 'com.example.role': 'front' });
    t.match(web.Spec.TaskTemplate.ContainerSpec.Secrets, [
      { SecretName: 'app_db_pw', File: { Name: 'db_pw', UID: '0', GID: '0', Mode: 0o444 } },
      { SecretName: 'prod_api_key', File: { Name: 'api.key', Mode: 0o400 } },
    ]);
    t.match(web.Spec.TaskTemplate.ContainerSpec.Configs, [{ ConfigName: 'app_app_conf', File: { Name: 'app_conf' } }, { ConfigName: 'shared_cfg', File: { Name: 'shared.cfg' } }]);
    t.same(web.Spec.TaskTemplate.Networks, [{ Target: (await get<{ Id: string }>('/networks/app_default')).Id, Aliases: ['web'] }]);

    const specBefore = JSON.stringify((await get<{ Spec: unknown }>('/services/app_web')).Spec);
    const again = await rs(['stack', 'deploy', '-c', COMPOSE, 'app']);
    t.equal(again.code, 0, again.stderr);
    t.notMatch(again.stdout, /Creating/, 'nothing created');
    t.match(again.stdout, /Updating service app_web \(id: \w+\)/);
    t.equal(JSON.stringify((await get<{ Spec: unknown }>('/services/app_web')).Spec), specBefore, 'the same spec, so no task is replaced');

    const ls = await rs(['stack', 'ls']);
    t.equal(ls.stdout, 'NAME      SERVICES\napp       2\n');
    const svcs = await rs(['stack', 'services', 'app']);
    t.equal(svcs.code, 0, svcs.stderr);
    t.match(svcs.stdout, /^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE\s+PORTS\n\w+\s+app_web\s+replicated\s+0\/1\s+alpine:3\.19\s*\n\w+\s+app_worker\s+/);
    await waitFor(async () => (await get<unknown[]>('/tasks')).length === 2, 'the tasks of the stack');
    const ps = await rs(['stack', 'ps', 'app']);
    t.equal(ps.code, 0, ps.stderr);
    t.match(ps.stdout, /app_web\.1\s+alpine:3\.19\s+Running\s+Pending/, 'tasks found by the stack label (no node: pending)');
    const psNone = await rs(['stack', 'ps', 'nosuch']);
    t.equal(psNone.code, 1);
    t.equal(psNone.stderr, 'nothing found in stack: nosuch\n');
    t.equal((await rs(['stack', 'services', 'nosuch'])).stderr, 'Nothing found in stack: nosuch\n');

    const changed = file('db_pw_changed.yml', `secrets:\n  db_pw:\n    file: ${file('other.txt', 'other')}\nservices:\n  s:\n    image: alpine\n    secrets: [db_pw]\n`);
    const bad = await rs(['stack', 'deploy', '-c', changed, 'app']);
    t.equal(bad.code, 1);
    t.match(bad.stderr, 'failed to update secret app_db_pw: Error response from daemon: rpc error: code = InvalidArgument desc = only updates to Labels are allowed');

    const rm = await rs(['stack', 'rm', '--detach=false', 'app']);
    t.equal(rm.code, 0, rm.stderr);
    t.same(rm.stdout.split('\n').filter(Boolean), [
      'Removing service app_web',
      'Removing service app_worker',
      'Removing secret app_db_pw',
      'Removing config app_app_conf',
      'Removing network app_back',
      'Removing network app_default',
    ]);
    t.same(await get<unknown[]>('/services'), []);
    t.same((await get<{ Name: string }[]>('/networks')).map((n) => n.Name).sort(), ['bridge', 'host', 'ingress', 'none']);
    const none = await rs(['stack', 'rm', 'app']);
    t.equal(none.code, 0);
    t.equal(none.stderr, 'Nothing found in stack: app\n');
  });
}
