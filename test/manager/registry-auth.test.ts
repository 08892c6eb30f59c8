// `--with-registry-auth` end to end on the manager side, with the stock docker CLI after a real `docker login` to an
// htpasswd registry on 127.0.0.1: the X-Registry-Auth credentials are kept with the service, sealed (no byte of them
// in the state dir's files), never shown (service inspect, tasks) nor logged, sent only to the node that runs the
// service's task, kept by an update without a header, replaced by one with a header, and follow a rollback.
// The nodes are fake ones (test/helpers/fake-node.ts): real certificates and sessions, no runtime.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { dockerCli } from '../helpers/docker-cli.js';
import { haveDocker, isRoot, request, startManager } from '../helpers/manager.js';
import { imageToolSkipReason, pushImage, startRegistry } from '../helpers/images.js';
import { fakeNode, type FakeNode } from '../helpers/fake-node.js';
import { waitFor } from '../helpers/wait.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { fuseSkipReason } from '../helpers/env.js';
import { pullAuthOnUpdate } from '../../manager/api/pull-auth.js';
import { withRegistryAuth } from '../../manager/dispatcher/assignments.js';
import { ApiError } from '../../manager/api/http.js';
import type { TaskAssignment } from '../../shared/protocol.js';

const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

t.test('update rules: a header replaces, registryAuthFrom picks, a rollback takes the previous (moby)', (t) => {
  const spec = { Name: 'x' };
  const cur = { Spec: spec, PreviousSpec: spec, pullAuth: 'NOW', previousPullAuth: 'BEFORE' };
  t.same(pullAuthOnUpdate(cur, 'NEW', null, false), { pullAuth: 'NEW', previousPullAuth: 'NOW' }, 'header wins');
  t.same(pullAuthOnUpdate(cur, 'NEW', 'previous-spec', false), { pullAuth: 'NEW', previousPullAuth: 'NOW' }, 'header wins over registryAuthFrom');
  t.same(pullAuthOnUpdate(cur, undefined, null, false), { pullAuth: 'NOW', previousPullAuth: 'NOW' }, 'no header, no query: the current spec\'s');
  t.same(pullAuthOnUpdate(cur, undefined, '', false), { pullAuth: 'NOW', previousPullAuth: 'NOW' });
  t.same(pullAuthOnUpdate(cur, undefined, 'spec', false), { pullAuth: 'NOW', previousPullAuth: 'NOW' });
  t.same(pullAuthOnUpdate(cur, undefined, 'previous-spec', false), { pullAuth: 'BEFORE', previousPullAuth: 'NOW' });
  t.same(pullAuthOnUpdate(cur, undefined, 'spec', true), { pullAuth: 'BEFORE', previousPullAuth: 'NOW' }, 'rollback');
  t.same(pullAuthOnUpdate({ Spec: spec }, undefined, 'spec', false), {}, 'none stays none');
  t.throws(() => pullAuthOnUpdate({ Spec: spec }, undefined, 'previous-spec', false), new ApiError(500, 'service does not have a previous spec'));
  t.throws(() => pullAuthOnUpdate(cur, undefined, 'bogus', false), new ApiError(500, 'unsupported registryAuthFrom value'));
  t.end();
});

t.test('assignments: the decoded credentials, or none for an undecodable value', (t) => {
  const a: TaskAssignment = { id: 't1', version: 1, serviceId: 's', serviceName: 'web', slot: 1, desiredState: 'running', files: [] };
  t.same(withRegistryAuth(a, enc({ username: 'u', password: 'p', serveraddress: 'r:5000', email: 'e' })).registryAuth, { username: 'u', password: 'p' });
  t.same(withRegistryAuth(a, enc({ identitytoken: 'tok' })).registryAuth, { identitytoken: 'tok' });
  t.equal(withRegistryAuth(a, undefined), a, 'no credentials: the assignment as it was');
  t.equal(withRegistryAuth(a, '!!not-base64-json'), a);
  t.equal(withRegistryAuth(a, enc({ email: 'only' })), a, 'nothing a pull uses');
  t.end();
});

const why = !isRoot() ? 'the manager runs as root; run the tests as root' : !haveDocker() ? 'no docker CLI on PATH' : imageToolSkipReason();

t.test('the stock CLI\'s --with-registry-auth: stored sealed, never shown, sent only where the tasks run', { skip: why || false }, async (t) => {
  const user = 'rs-auth-user';
  const password = `pw-${process.pid}-Zq9vXk3`; // distinctive bytes to search for
  const reg = await startRegistry({ creds: { username: user, password } });
  t.teardown(() => reg.close());
  await pushImage(reg, '1', 'app:1', { username: user, password });
  const image = `${reg.host}/app:1`;

  const m = await startManager({ t });
  const cli = dockerCli();
  t.teardown(() => cli.cleanup());

  // `docker login` asks the daemon (POST /auth); with no daemon reachable it logs in client side, as on a host with
  // no Docker engine. The credentials land in the CLI's config.json.
  const login = await cli.run('unix:///nonexistent/docker.sock', ['login', '--username', user, '--password-stdin', reg.host], `${password}\n`);
  t.equal(login.code, 0, `docker login: ${login.stderr}`);
  t.match(login.stdout, /Login Succeeded/);

  const nodes: FakeNode[] = [];
  t.teardown(async () => {
    for (const n of nodes) await n.close();
  });
  const a = await fakeNode({ port: m.tcpPort, token: m.workerToken, stateDir: join(m.dir, 'node-a'), hostname: 'rs-auth-a' });
  const b = await fakeNode({ port: m.tcpPort, token: m.workerToken, stateDir: join(m.dir, 'node-b'), hostname: 'rs-auth-b' });
  nodes.push(a, b);
  await waitFor('both nodes ready', async () => {
    const r = await request(m.socket, 'GET', '/nodes');
    return (r.json as Array<{ Status: { State: string } }>).filter((n) => n.Status.State === 'ready').length === 3;
  }, { timeoutMs: 20_000 });

  const docker = (args: string[]): ReturnType<typeof cli.run> => cli.run(m.dockerHost, args);
  const created = await docker(['service', 'create', '-d', '--with-registry-auth', '--name', 'web', '--constraint', 'node.hostname==rs-auth-a', image, 'sleep', '1d']);
  t.equal(created.code, 0, `service create: ${created.stderr}`);
  t.equal(created.stderr, '', 'the image was resolved with the credentials: no warning');
  const other = await docker(['service', 'create', '-d', '--name', 'other', '--constraint', 'node.hostname==rs-auth-b', image, 'sleep', '1d']);
  t.equal(other.code, 0, `service create other: ${other.stderr}`);

  const onA = await a.waitTask((x) => x.serviceName === 'web' && x.registryAuth !== undefined, "web's task on node a, with credentials");
  t.same(onA.registryAuth, { username: user, password }, 'the node running the task got the credentials docker login stored');
  const onB = await b.waitTask((x) => x.serviceName === 'other', "other's task on node b");
  t.equal(onB.registryAuth, undefined, 'a service created without --with-registry-auth sends none');
  const pw = Buffer.from(password);
  t.notOk(b.frames.some((f) => f.includes(pw)), 'node b, which runs no task of web, never received the password');
  t.notOk([...a.tasks.values()].some((x) => x.serviceName === 'other' && x.registryAuth), 'and node a got none for other');

  // Never shown: not by the API, not by the CLI (Docker's ContainerSpec has no PullOptions).
  const inspect = await docker(['service', 'inspect', 'web']);
  t.equal(inspect.code, 0, inspect.stderr);
  t.notOk(inspect.stdout.includes(password), 'service inspect does not show the password');
  t.notOk(/PullOptions|RegistryAuth/i.test(inspect.stdout), 'nor any PullOptions');
  const tasks = await request(m.socket, 'GET', '/tasks');
  t.notOk(tasks.text.includes(password), 'the tasks do not show it');
  const services = await request(m.socket, 'GET', '/services');
  t.notOk(services.text.includes(password), 'nor the service list');

  // An update without --with-registry-auth (the CLI sends registryAuthFrom=spec) keeps them; the task is replaced.
  const upd = await docker(['service', 'update', '-d', '--env-add', 'GEN=2', 'web']);
  t.equal(upd.code, 0, `service update: ${upd.stderr}`);
  const after = await a.waitTask((x) => x.serviceName === 'web' && x.id !== onA.id && (x.env ?? []).includes('GEN=2'), 'the updated task on a');
  t.same(after.registryAuth, { username: user, password }, 'an update without a header keeps the credentials');

  // An update with a header replaces them; a rollback brings back the previous ones.
  const svc = (await request(m.socket, 'GET', '/services/web')).json as { Version: { Index: number }; Spec: Record<string, unknown> };
  const spec3 = structuredClone(svc.Spec) as { TaskTemplate: { ContainerSpec: { Env?: string[] } } };
  spec3.TaskTemplate.ContainerSpec.Env = ['GEN=3'];
  const r3 = await request(m.socket, 'POST', `/services/web/update?version=${svc.Version.Index}`, spec3, { 'X-Registry-Auth': enc({ username: 'other-user', password: 'other-pass' }) });
  t.equal(r3.status, 200, r3.text);
  const third = await a.waitTask((x) => (x.env ?? []).includes('GEN=3'), 'the task of the third spec');
  t.same(third.registryAuth, { username: 'other-user', password: 'other-pass' }, 'a header replaces the credentials');
  const rb = await docker(['service', 'update', '-d', '--rollback', 'web']);
  t.equal(rb.code, 0, `rollback: ${rb.stderr}`);
  const back = await a.waitTask((x) => (x.env ?? []).includes('GEN=2') && x.id !== after.id, 'the rolled-back task');
  t.same(back.registryAuth, { username: user, password }, 'a rollback brings back the previous spec\'s credentials');

  const v = ((await request(m.socket, 'GET', '/services/web')).json as { Version: { Index: number } }).Version.Index;
  const bad = await request(m.socket, 'POST', `/services/web/update?version=${v}&registryAuthFrom=bogus`, svc.Spec);
  t.same([bad.status, bad.json], [500, { message: 'unsupported registryAuthFrom value' }], "moby's text for an unknown registryAuthFrom");

  // Sealed at rest: no file of the state dir (store.db and its WAL included) holds the password or the header.
  const header = enc({ username: user, password, serveraddress: reg.host });
  const hits: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        const bytes = readFileSync(p);
        if (bytes.includes(pw) || bytes.includes(Buffer.from(user)) || bytes.includes(Buffer.from(header.slice(0, 24)))) hits.push(p);
      }
    }
  };
  walk(m.stateDir);
  t.same(hits, [], 'no file of the manager\'s state holds the user name, the password or the header');
  t.ok(readdirSync(m.stateDir).includes('store.db'), 'the store file was searched');
  t.notOk(m.logs().includes(password), "the manager's log (debug level) never has the password");
  t.notOk(m.logs().includes(header.slice(0, 24)), 'nor the header');
});

t.test('a real agent running a task with credentials logs none of them (debug level)', { skip: fuseSkipReason() || false }, async (t) => {
  const m = await startManager({ t });
  const agent = managedAgent({ managerPort: m.tcpPort, hostname: 'rs-auth-real' });
  t.teardown(() => stopOrKill(agent));
  await agent.start(m.workerToken);
  const password = `real-agent-pw-${process.pid}-Qm7`;
  const header = enc({ username: 'real-user', password, serveraddress: '127.0.0.1:9' });
  const spec = {
    Name: 'authed',
    TaskTemplate: { ContainerSpec: { Image: '127.0.0.1:9/app:1', Command: ['sleep', '1d'] }, RestartPolicy: { Condition: 'none' } },
    Mode: { Replicated: { Replicas: 1 } },
  };
  const r = await request(m.socket, 'POST', '/services/create', spec, { 'X-Registry-Auth': header });
  t.equal(r.status, 201, r.text);
  const seen = await agent.waitLog((l) => l.msg === 'assignments applied' && Number(l.tasks) > 0, 0, 20_000);
  t.ok(seen, 'the agent applied the assignment with the credentials');
  const logText = JSON.stringify(agent.logs());
  t.notOk(logText.includes(password), "the agent's log never has the password");
  t.notOk(logText.includes('real-user'), 'nor the user name');
  t.notOk(m.logs().includes(password), "nor the manager's");
});
