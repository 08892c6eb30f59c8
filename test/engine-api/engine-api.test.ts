// The node's Engine API socket with the stock docker CLI (DOCKER_HOST=unix://…): ps with filters, inspect, exec
// (stdout/stderr split, exit code, stdin, TTY), logs (tail, timestamps, follow), and Docker's error texts. Tasks are
// run by the process runtime (agent/executor) through test/helpers/process-runtime.ts.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngineApi } from '../../agent/engine-api/server.js';
import { LogStore } from '../../agent/logs/index.js';
import { containerIdOf } from '../../shared/container-id.js';
import { createLogger } from '../../shared/log.js';
import { dockerCli } from '../helpers/docker-cli.js';
import { toolSkipReason } from '../helpers/env.js';
import { ProcessRuntime } from '../../agent/runtime/process.js';
import { waitFor } from '../helpers/wait.js';

const skip = process.getuid?.() !== 0 ? 'needs root (tasks run in their own namespaces; the socket is root-only)' : toolSkipReason(['docker', 'python3', 'nsenter', 'unshare']);

t.test('docker ps, inspect, exec and logs against the node socket', skip ? { skip } : {}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-engine-'));
  const logs = new LogStore({ dir: join(dir, 'logs') });
  const rt = new ProcessRuntime({ logger: createLogger('executor', process.env.RS_TEST_LOG ? 'debug' : 'silent') });
  rt.on('output', (o) => logs.write(o.id, o.stream, o.chunk));
  const api = createEngineApi({ runtime: rt, logs, log: createLogger('engine', 'silent') });
  const sock = await api.listen(join(dir, 'docker.sock'));
  const host = `unix://${sock}`;
  const docker = dockerCli();
  t.teardown(async () => {
    await rt.stopAll();
    await api.close();
    logs.close();
    docker.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  t.equal(statSync(sock).mode & 0o777, 0o600, 'the socket is root-only');
  // The attack: another host user, with the folder open to it, asks the socket for the node's containers.
  chmodSync(dir, 0o711);
  const nobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'docker', '-H', host, 'ps'], {
    encoding: 'utf8', env: { ...process.env, DOCKER_CONFIG: join(dir, 'nobody-docker-config') }, timeout: 20_000,
  });
  chmodSync(dir, 0o700);
  t.not(nobody.status, 0, 'a non-root host user cannot use the node socket');
  t.match(nobody.stderr, /permission denied/, `refused by the socket's mode: ${nobody.stderr.trim()}`);

  const taskId = 'enginetask0000000000000a1';
  const marker = join(dir, 'go');
  const script = `echo hello-out; echo hello-err >&2; while :; do if [ -e ${marker} ]; then rm -f ${marker}; echo later-line; fi; sleep 0.05; done`;
  const st = await rt.start({ id: taskId, name: `web.1.${taskId}`, command: ['sh', '-c', script], image: 'busybox:latest', labels: { 'com.docker.swarm.service.name': 'web', 'com.docker.swarm.task.id': taskId } });
  t.equal(st.state, 'running');
  await waitFor('the first lines in the log', () => logs.read(taskId).length >= 2, { timeoutMs: 10_000 });
  const cid = containerIdOf(taskId);

  const ps = await docker.run(host, ['ps', '--filter', 'name=web', '-q']);
  t.equal(ps.code, 0, ps.stderr);
  t.equal(ps.stdout.trim(), cid.slice(0, 12), 'docker ps --filter name=web -q gives the container ID');
  t.equal((await docker.run(host, ['ps', '--filter', 'name=nothere', '-q'])).stdout.trim(), '', 'a name filter that matches nothing');
  const byLabel = await docker.run(host, ['ps', '--no-trunc', '--filter', 'label=com.docker.swarm.service.name=web', '--format', '{{.ID}} {{.Names}} {{.Status}}']);
  t.match(byLabel.stdout, new RegExp(`^${cid} web\\.1\\.${taskId} Up `), 'label filter, full ID, name and status');

  const insp = await docker.run(host, ['inspect', '--format', '{{.Name}} {{.State.Status}} {{.State.Running}}', cid.slice(0, 10)]);
  t.equal(insp.stdout.trim(), `/web.1.${taskId} running true`, 'inspect by ID prefix');
  const missing = await docker.run(host, ['exec', 'nosuchcontainer', 'true']);
  t.not(missing.code, 0);
  t.match(missing.stderr, 'No such container: nosuchcontainer', "Docker's words for a missing container");

  const ex = await docker.run(host, ['container', 'exec', `web.1.${taskId}`, 'sh', '-c', 'echo to-out; echo to-err >&2; exit 3']);
  t.equal(ex.code, 3, 'the exec exit code is the CLI exit code');
  t.equal(ex.stdout, 'to-out\n', 'stdout demultiplexed');
  t.equal(ex.stderr, 'to-err\n', 'stderr demultiplexed');
  const withStdin = await docker.run(host, ['exec', '-i', cid, 'sh', '-c', 'cat; echo done'], 'line one\nline two\n');
  t.equal(withStdin.code, 0, withStdin.stderr);
  t.equal(withStdin.stdout, 'line one\nline two\ndone\n', 'docker exec -i passes stdin and sees its end');
  const tty = await docker.run(host, ['exec', '-t', cid, 'sh', '-c', 'tty; echo "$TERM"']);
  t.equal(tty.code, 0, tty.stderr);
  t.match(tty.stdout, /^\/dev\/pts\/\d+\r\nxterm\r\n$/, 'docker exec -t runs on a terminal (raw stream, CRLF from the tty)');

  const asUser = await docker.run(host, ['exec', '-u', '1234:5678', '-w', '/tmp', '-e', 'EXTRA=1', cid, 'sh', '-c', 'echo $(id -u):$(id -g) $(pwd) $EXTRA']);
  t.equal(asUser.stdout, '1234:5678 /tmp 1\n', 'exec -u, -w and -e');
  const detached = await docker.run(host, ['exec', '-d', cid, 'sh', '-c', `echo detached > ${join(dir, 'detached')}`]);
  t.equal(detached.code, 0, detached.stderr);
  await waitFor('the detached exec to run', () => existsSync(join(dir, 'detached')), { timeoutMs: 10_000 });
  const raw = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ socketPath: sock, method, path, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown }));
      });
      req.once('error', reject);
      req.end(body ? JSON.stringify(body) : undefined);
    });
  t.same(await raw('GET', `/v1.47/containers/${cid}/logs`), { status: 400, json: { message: 'Bad parameters: you must choose at least one stream' } });
  t.same(await raw('POST', `/v1.47/containers/${cid}/exec`, { Cmd: [] }), { status: 400, json: { message: 'No exec command specified' } });
  t.same(await raw('GET', '/v1.47/exec/nosuchexec/json'), { status: 404, json: { message: 'No such exec instance: nosuchexec' } });
  t.same(await raw('GET', '/v1.47/containers/json?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D'), { status: 400, json: { message: "invalid filter 'bogus'" } });

  const lg = await docker.run(host, ['logs', cid]);
  t.equal(lg.stdout, 'hello-out\n');
  t.equal(lg.stderr, 'hello-err\n', 'stderr lines to stderr');
  const ts = await docker.run(host, ['logs', '--timestamps', '--tail', '1', cid]);
  t.match(ts.stdout + ts.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z hello-(out|err)\n$/, 'one line, Docker timestamp');

  const follow = spawn('docker', ['logs', '--follow', cid], { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: dir } });
  let followed = '';
  follow.stdout.on('data', (b: Buffer) => (followed += b.toString()));
  t.teardown(() => void follow.kill());
  await waitFor('the backlog in docker logs -f', () => followed.includes('hello-out'), { timeoutMs: 10_000 });
  writeFileSync(marker, '');
  await waitFor('a new line in docker logs -f', () => followed.includes('later-line'), { timeoutMs: 10_000 });
  t.equal(followed, 'hello-out\nlater-line\n', 'docker logs --follow shows the new line');
  const ended = new Promise<number | null>((r) => follow.once('close', (c) => r(c)));
  await rt.stop(taskId);
  t.equal(await ended, 0, 'follow ends when the container stops');

  const stopped = await docker.run(host, ['exec', cid, 'true']);
  t.match(stopped.stderr, `container ${cid} is not running`, "Docker's words for exec into a stopped container");
  const psAll = await docker.run(host, ['ps', '-a', '--filter', 'status=exited', '--format', '{{.Status}}']);
  t.match(psAll.stdout, /^Exited \(\d+\) /, 'ps -a --filter status=exited');
});
