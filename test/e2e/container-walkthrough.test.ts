// Docker's secrets walkthrough, verbatim, with the stock docker CLI only: one manager, one agent running tasks as runc
// containers, `redis:alpine` served by a registry mirror on 127.0.0.1 (an image built offline), and the container
// routes answered through the manager's socket (one DOCKER_HOST for everything). Then what a container must hold
// to: its own processes only, Docker's default capabilities, /run/secrets neither remountable nor unmountable,
// configs placed inside the container's layer, no secret byte in any writable layer, logs, and a missing image
// shown by `service ps` with Docker's words.
import t from 'tap';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fuseSkipReason, toolSkipReason } from '../helpers/env.js';
import { startManager, haveDocker, type CliResult } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { dockerCli } from '../helpers/docker-cli.js';
import { imageToolSkipReason, pushImage, startRegistry } from '../helpers/images.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'This is a secret';
const skip = fuseSkipReason() || imageToolSkipReason() || toolSkipReason(['runc']) || (haveDocker() ? false : 'the docker CLI is not installed');

function ok(r: CliResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Regular files under dir on dir's own device (overlay mounts and binds beneath it are other devices: skipped). */
function* hostFiles(dir: string, dev = statSync(dir).dev): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.dev !== dev) continue;
    if (st.isDirectory()) yield* hostFiles(p, dev);
    else if (st.isFile()) yield p;
  }
}

t.test('the seed walkthrough on runc containers, through the manager with the stock docker CLI', { skip }, async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.close());
  await pushImage(registry, 'nginx', 'library/redis:alpine'); // keeps running (sleep), as redis would
  await pushImage(registry, 'nginx', 'busybox:nginx'); // has /etc/nginx/conf.d
  await pushImage(registry, '1', 'busybox:1'); // has not
  const mirror = `http://${registry.host}`;
  const m = await startManager({ t, runArgs: ['--registry-mirror', mirror] });
  const ag = managedAgent({ managerPort: m.tcpPort, hostname: 'walk', runtime: 'oci', extraArgs: ['--registry-mirror', mirror] });
  t.teardown(() => stopOrKill(ag).then(() => ag.cleanup()));
  await ag.start(m.workerToken);
  const cli = dockerCli();
  t.teardown(() => cli.cleanup());
  const docker = (args: string[], input?: string): Promise<CliResult> => cli.run(m.dockerHost, args, input);
  const exec = (cid: string, ...argv: string[]): Promise<CliResult> => docker(['container', 'exec', cid, ...argv]);

  ok(await docker(['secret', 'create', 'my_secret_data', '-'], SECRET), 'secret create');
  const created = await docker(['service', 'create', '--name', 'redis', '--label', 'com.runsecrets.secret-update=live', '--secret', 'my_secret_data', 'redis:alpine']);
  ok(created, 'service create');
  t.notMatch(created.stderr, /could not be accessed/, 'the image resolves through the manager: no warning');
  const image = ok(await docker(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'redis']), 'inspect').trim();
  t.match(image, /^redis:alpine@sha256:[0-9a-f]{64}$/, 'the image is pinned by digest');

  const cid = await waitFor('the redis container in docker ps', async () => ok(await docker(['ps', '--filter', 'name=redis', '-q']), 'ps').trim(), { timeoutMs: 60_000, intervalMs: 200 });
  t.match(cid, /^[0-9a-f]{12}$/, 'docker ps -q prints one short container ID');
  const ls = ok(await exec(cid, 'ls', '-l', '/run/secrets'), 'exec ls');
  t.match(ls, new RegExp(`^-r--r--r--\\s+1 root\\s+root\\s+${SECRET.length} .* my_secret_data$`, 'm'), 'ls -l /run/secrets as Docker shows it');
  t.equal(ok(await exec(cid, 'cat', '/run/secrets/my_secret_data'), 'exec cat'), SECRET, 'the secret read inside the container');

  const rm = await docker(['secret', 'rm', 'my_secret_data']);
  t.not(rm.code, 0, 'secret rm is refused while in use');
  t.match(rm.stderr, /is in use by the following service: redis/, "with Docker's text");

  // What the container is: its own processes only, Docker's capabilities, a mount it cannot change.
  const ps = ok(await exec(cid, 'ps', '-o', 'pid,comm'), 'exec ps').trim().split('\n').slice(1);
  t.ok(ps.length <= 3, `ps inside lists only the container's processes (${ps.join(' | ')})`);
  t.match(ps.join('\n'), /^\s*1 sleep$/m, "PID 1 is the image's command");
  const status = ok(await exec(cid, 'cat', '/proc/self/status'), 'exec status');
  t.match(status, /^CapEff:\s+00000000a80425fb$/m, "a root task holds Docker's default capabilities only");
  t.match(status, /^NoNewPrivs:\s+1$/m, 'no_new_privs is on');
  t.not((await exec(cid, 'mount', '-o', 'remount,rw', '/run/secrets')).code, 0, '/run/secrets cannot be remounted read-write');
  t.not((await exec(cid, 'umount', '/run/secrets')).code, 0, '/run/secrets cannot be unmounted');
  t.equal(ok(await exec(cid, 'cat', '/run/secrets/my_secret_data'), 'exec cat again'), SECRET, 'still in place');

  // runsecrets task exec on a container's task goes through runc exec: the command is under the container's own
  // seccomp filter and capabilities, as docker exec's is, not merely in its namespaces.
  const taskId = ok(await docker(['service', 'ps', '-q', '--no-trunc', 'redis']), 'service ps -q').trim().split('\n')[0]!;
  const viaTask = await ag.exec([taskId, 'cat', '/proc/self/status']);
  t.equal(viaTask.code, 0, `runsecrets task exec (${viaTask.stderr.trim()})`);
  t.match(viaTask.stdout, /^CapEff:\s+00000000a80425fb$/m, "task exec: Docker's default capabilities only");
  t.match(viaTask.stdout, /^Seccomp:\s+2$/m, "task exec: under the container's seccomp filter");
  t.match(viaTask.stdout, /^NoNewPrivs:\s+1$/m, 'task exec: no_new_privs');
  t.equal((await ag.exec([taskId, 'cat', '/run/secrets/my_secret_data'])).stdout, SECRET, 'task exec reads the secret inside');
  t.equal((await ag.exec([taskId, 'sh', '-c', 'exit 7'])).code, 7, "task exec passes the command's exit code through");

  await t.test('configs at their absolute targets, folders made in the container layer only', async (t) => {
    const hostHad = existsSync('/etc/nginx/conf.d');
    ok(await docker(['config', 'create', 'site', '-'], 'server { listen 8080; }\n'), 'config create');
    for (const [name, img] of [['withdir', 'busybox:nginx'], ['nodir', 'busybox:1']] as const) {
      ok(await docker(['service', 'create', '--detach', '--name', name, '--config', 'source=site,target=/etc/nginx/conf.d/site.conf',
        `${registry.host}/${img}`, 'sleep', '3600']), `service create ${name}`);
      const c = await waitFor(`the ${name} container`, async () => ok(await docker(['ps', '--filter', `name=${name}`, '-q']), 'ps').trim(), { timeoutMs: 60_000, intervalMs: 200 });
      t.equal(ok(await exec(c, 'cat', '/etc/nginx/conf.d/site.conf'), `cat in ${name}`), 'server { listen 8080; }\n', `the config in ${img}`);
      t.notMatch(ok(await exec(c, 'ls', '/run/secrets'), 'ls'), /site/, 'configs are not in /run/secrets');
    }
    t.equal(existsSync('/etc/nginx/conf.d'), hostHad, "the host's /etc/nginx/conf.d is untouched");
    ok(await docker(['service', 'rm', 'withdir', 'nodir']), 'service rm');
  });

  await t.test('logs: docker logs and docker service logs, with --follow', async (t) => {
    ok(await docker(['service', 'create', '--detach', '--name', 'talk', `${registry.host}/busybox:1`, 'sh', '-c',
      'i=0; while :; do echo "line $i"; i=$((i+1)); sleep 0.2; done']), 'service create talk');
    const c = await waitFor('the talk container', async () => ok(await docker(['ps', '--filter', 'name=talk', '-q']), 'ps').trim(), { timeoutMs: 60_000, intervalMs: 200 });
    const logs = await waitFor('lines in docker logs', async () => {
      const out = ok(await docker(['logs', c]), 'logs');
      return /line 2$/m.test(out) ? out : null;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    t.match(logs, /^line 0$/m, 'docker logs shows the task output from its first line');
    const svc = ok(await docker(['service', 'logs', 'talk']), 'service logs');
    t.match(svc, /^talk\.1\.\w+@walk\s+\| line 0$/m, 'docker service logs prefixes each line with the task and node');
    const last = Math.max(...[...svc.matchAll(/line (\d+)/g)].map((x) => Number(x[1])));
    const follow = await cli.run(m.dockerHost, ['service', 'logs', '--follow', '--tail', '1', 'talk'], undefined, 3000);
    const seen = [...follow.stdout.matchAll(/line (\d+)/g)].map((x) => Number(x[1]));
    t.ok(seen.some((n) => n > last + 1), `--follow streams new lines (after ${last}: ${seen.join(',')})`);
    ok(await docker(['service', 'rm', 'talk']), 'service rm talk');
  });

  await t.test('a missing image: service ps shows the pull error, in both CLIs', async (t) => {
    const ref = `${registry.host}/nope:1`;
    ok(await docker(['service', 'create', '--detach', '--name', 'ghost', ref]), 'service create ghost');
    const text = `No such image: ${ref}`;
    await waitFor('the pull error in docker service ps', async () => ok(await docker(['service', 'ps', '--no-trunc', 'ghost']), 'service ps').includes(text), { timeoutMs: 60_000, intervalMs: 200 });
    t.pass(`docker service ps shows "${text}"`);
    t.match(ok(await m.cli(['service', 'ps', '--no-trunc', 'ghost']), 'runsecrets service ps'), text, 'runsecrets service ps says the same');
    ok(await docker(['service', 'rm', 'ghost']), 'service rm ghost');
  });

  ok(await docker(['service', 'update', '--detach', '--secret-rm', 'my_secret_data', 'redis']), 'secret-rm');
  const gone = await waitFor('the secret gone from the running container', async () => {
    const r = await exec(cid, 'cat', '/run/secrets/my_secret_data');
    return r.code !== 0 ? r : null;
  }, { timeoutMs: 20_000, intervalMs: 100 });
  t.match(gone.stderr, /No such file or directory/, 'exec cat shows "No such file or directory"');
  t.equal(ok(await docker(['ps', '--filter', 'name=redis', '-q']), 'ps').trim(), cid, 'the same container: no restart');

  // The container's writable layer (and everything else the agent keeps on disk) never held the secret's bytes.
  const needle = Buffer.from(SECRET);
  const holders = [...hostFiles(ag.stateDir)].filter((p) => readFileSync(p).includes(needle));
  t.same(holders, [], "no file under the agent's state dir (writable layers included) holds the secret");

  ok(await docker(['service', 'rm', 'redis']), 'service rm');
  await waitFor('the task folder gone', () => readdirSync(ag.mount).length === 0, { timeoutMs: 20_000 });
  ok(await docker(['secret', 'rm', 'my_secret_data']), 'secret rm after service rm');
});
