// The seed's walkthrough with the stock docker CLI only, against the node's own socket and through the manager's
// (one DOCKER_HOST for the cluster): docker ps --filter name=… -q, docker container exec … ls -l /run/secrets,
// docker exec -i with stdin, docker logs (+ --follow), docker service logs (+ --tail, --follow, --timestamps).
// Two agents, so that the manager's container list is merged over nodes and each request reaches the right one.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fuseSkip, toolSkipReason } from '../helpers/env.js';
import { startManager, request, type CliResult } from '../helpers/manager.js';
import { managedAgent, stopOrKill } from '../helpers/managed-agent.js';
import { dockerCli } from '../helpers/docker-cli.js';
import { waitFor } from '../helpers/wait.js';
import { containerIdOf } from '../../shared/container-id.js';

const fuse = fuseSkip();
const tool = toolSkipReason(['docker', 'python3']);
const skip = 'skip' in fuse ? fuse : tool ? { skip: tool } : {};

function ok(r: CliResult, what: string): CliResult {
  if (r.code !== 0) throw new Error(`${what} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return r;
}

interface TaskJson {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string };
}

t.test('docker ps / exec / logs / service logs through the node socket and the manager', skip, async (t) => {
  process.env.RUNSECRETS_HEARTBEAT_MS = '500';
  const m = await startManager({ t });
  const a = managedAgent({ managerPort: m.tcpPort, hostname: 'eng-a' });
  const b = managedAgent({ managerPort: m.tcpPort, hostname: 'eng-b' });
  const wd = mkdtempSync(join(tmpdir(), 'rs-eng-wd-'));
  chmodSync(wd, 0o755);
  const docker = dockerCli();
  const followers: Array<{ kill(): boolean }> = [];
  t.teardown(async () => {
    for (const f of followers) f.kill();
    for (const ag of [a, b]) await stopOrKill(ag);
    await m.cleanup();
    docker.cleanup();
    for (const d of [a.dir, b.dir, wd]) rmSync(d, { recursive: true, force: true });
  });
  await a.start(m.workerToken);
  await b.start(m.workerToken);
  await waitFor('both nodes ready', async () => {
    const nodes = (await request(m.socket, 'GET', '/nodes')).json as Array<{ Description: { Hostname: string }; Status: { State: string } }>;
    const ready = nodes.filter((n) => ['eng-a', 'eng-b'].includes(n.Description.Hostname) && n.Status.State === 'ready');
    if (ready.length !== 2) throw new Error(`nodes: ${JSON.stringify(nodes.map((n) => [n.Description.Hostname, n.Status]))}`);
    return true;
  }, { timeoutMs: 30_000 });

  const marker = join(wd, 'go');
  ok(await m.cli(['secret', 'create', 'my_secret_data', '-'], 'this is a secret\n'), 'secret create');
  const script = `echo ready; echo warn-line >&2; while :; do if [ -e ${marker} ]; then rm -f ${marker}; echo later-line; fi; sleep 0.1; done`;
  ok(await m.cli(['service', 'create', '--name', 'redis', '--constraint', 'node.hostname==eng-a', '--secret', 'my_secret_data', '--detach', 'none', 'sh', '-c', script]), 'service create redis');
  ok(await m.cli(['service', 'create', '--name', 'other', '--constraint', 'node.hostname==eng-b', '--detach', 'none', 'sleep', '1d']), 'service create other');
  const running = async (svc: string): Promise<TaskJson> =>
    waitFor(`a running task of ${svc}`, async () => {
      const r = await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [svc] }))}`);
      const found = (r.json as TaskJson[]).find((x) => x.Status.State === 'running');
      if (!found) {
        const nodes = (await request(m.socket, 'GET', '/nodes')).json as Array<{ Description: { Hostname: string }; Status: unknown; Spec: unknown }>;
        throw new Error(`tasks: ${JSON.stringify(r.json)}; nodes: ${JSON.stringify(nodes.map((n) => [n.Description.Hostname, n.Status, n.Spec]))}`);
      }
      return found;
    }, { timeoutMs: 60_000 });
  const task = await running('redis');
  await running('other');
  const cid = containerIdOf(task.ID);
  const agentHost = `unix://${join(a.stateDir, 'docker.sock')}`;
  t.equal(statSync(join(a.stateDir, 'docker.sock')).mode & 0o777, 0o600, "the node's socket is root-only");

  // The node's own socket.
  const psA = ok(await docker.run(agentHost, ['ps', '--filter', 'name=redis', '-q']), 'docker ps (node)');
  t.equal(psA.stdout.trim(), cid.slice(0, 12), 'docker ps --filter name=redis -q on the node');
  const lsA = ok(await docker.run(agentHost, ['container', 'exec', psA.stdout.trim(), 'ls', '-l', '/run/secrets']), 'exec ls (node)');
  t.match(lsA.stdout, /-r--r--r-- +1 root +root +17 .* my_secret_data\n/, 'ls -l /run/secrets inside the task, on the node');

  // The manager's socket: the whole cluster.
  const host = m.dockerHost;
  const ps = ok(await docker.run(host, ['ps', '--filter', 'name=redis', '-q']), 'docker ps (manager)');
  t.equal(ps.stdout.trim(), cid.slice(0, 12), 'docker ps --filter name=redis -q through the manager');
  const names = ok(await docker.run(host, ['ps', '--format', '{{.Names}}']), 'docker ps names');
  t.same(names.stdout.trim().split('\n').map((n) => n.split('.')[0]).sort(), ['other', 'redis'], 'containers of both nodes, merged');
  const ls = ok(await docker.run(host, ['container', 'exec', ps.stdout.trim(), 'ls', '-l', '/run/secrets']), 'exec ls (manager)');
  t.match(ls.stdout, /^total \d+\n-r--r--r-- +1 root +root +17 .* my_secret_data\n$/, 'docker container exec … ls -l /run/secrets through the manager');
  const cat = ok(await docker.run(host, ['exec', ps.stdout.trim(), 'cat', '/run/secrets/my_secret_data']), 'exec cat');
  t.equal(cat.stdout, 'this is a secret\n');
  const stdin = ok(await docker.run(host, ['exec', '-i', ps.stdout.trim(), 'sh', '-c', 'cat; echo end'], 'from stdin\n'), 'exec -i');
  t.equal(stdin.stdout, 'from stdin\nend\n', 'docker exec -i through the manager');
  // Over TCP with an admin certificate (docker --tlsverify -H tcp://…): the attached exec is an upgrade on the TLS port.
  const certDir = m.adminCertDir!;
  const tls = ['-H', `tcp://127.0.0.1:${m.tcpPort}`, '--tlsverify', `--tlscacert=${join(certDir, 'ca.pem')}`, `--tlscert=${join(certDir, 'cert.pem')}`, `--tlskey=${join(certDir, 'key.pem')}`];
  const overTls = ok(await docker.run(host, [...tls, 'exec', '-i', cid, 'sh', '-c', 'cat; cat /run/secrets/my_secret_data'], 'over tls\n'), 'exec over TLS');
  t.equal(overTls.stdout, 'over tls\nthis is a secret\n', 'docker exec -i through the manager over TLS with an admin certificate');
  t.equal(ok(await docker.run(host, [...tls, 'ps', '-q', '--filter', 'name=redis']), 'ps over TLS').stdout.trim(), cid.slice(0, 12), 'docker ps over TLS');
  const code = await docker.run(host, ['exec', ps.stdout.trim(), 'sh', '-c', 'exit 7']);
  t.equal(code.code, 7, 'the exit code through the manager');
  const missing = await docker.run(host, ['exec', 'nosuch', 'true']);
  t.match(missing.stderr, 'No such container: nosuch');

  const logs = ok(await docker.run(host, ['logs', ps.stdout.trim()]), 'docker logs');
  t.equal(logs.stdout, 'ready\n');
  t.equal(logs.stderr, 'warn-line\n');
  const follow = spawn('docker', ['logs', '--follow', cid], { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: wd } });
  followers.push(follow);
  let followed = '';
  follow.stdout.on('data', (d: Buffer) => (followed += d.toString()));
  await waitFor('docker logs -f backlog', () => followed.includes('ready'), { timeoutMs: 15_000 });

  const slog = ok(await docker.run(host, ['service', 'logs', 'redis']), 'docker service logs');
  const prefix = `redis.1.${task.ID.slice(0, 12)}@eng-a`;
  t.match(slog.stdout, new RegExp(`^${prefix.replace(/\./g, '\\.')} +\\| ready\\n$`), 'service logs: stdout line with its task prefix');
  t.match(slog.stderr, new RegExp(`\\| warn-line\\n$`), 'service logs: stderr line');
  const tail = ok(await docker.run(host, ['service', 'logs', '--tail', '1', '--timestamps', '--no-task-ids', 'redis']), 'service logs --tail');
  t.match(tail.stdout + tail.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z redis\.1@eng-a +\| (ready|warn-line)\n$/, 'one line, with its timestamp');
  const sfollow = spawn('docker', ['service', 'logs', '--follow', 'redis'], { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: wd } });
  followers.push(sfollow);
  let sfollowed = '';
  sfollow.stdout.on('data', (d: Buffer) => (sfollowed += d.toString()));
  await waitFor('service logs -f backlog', () => sfollowed.includes('ready'), { timeoutMs: 15_000 });

  writeFileSync(marker, '');
  await waitFor('the new line in docker logs -f', () => followed.includes('later-line'), { timeoutMs: 15_000 });
  await waitFor('the new line in docker service logs -f', () => sfollowed.includes('later-line'), { timeoutMs: 15_000 });
  t.equal(followed, 'ready\nlater-line\n', 'docker logs --follow through the manager streams the new line');
  t.match(sfollowed, new RegExp(`\\| later-line\\n$`), 'docker service logs --follow streams the new line');
  // A task that starts while following: its lines join the stream (Docker follows the service, not a task list).
  ok(await docker.run(host, ['service', 'scale', '--detach', 'redis=2']), 'docker service scale');
  await waitFor('the new task in docker service logs -f', () => /redis\.2\.\w+@eng-a +\| ready\n/.test(sfollowed), { timeoutMs: 30_000 });
  t.pass('docker service logs --follow shows a task started after it');
  const bad = await docker.run(host, ['service', 'logs', 'nosuchservice']);
  t.match(bad.stderr, 'no such task or service: nosuchservice');
});
