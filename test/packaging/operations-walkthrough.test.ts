// docs/OPERATIONS.md's path without systemd, as an operator follows it: `manager init`, a manager.yaml, `manager run
// --config`, /readyz, the worker token, two agents each from its own agent.yaml (their own state dir, mount and
// metrics address, as the guide says for two agents on one host), both nodes Ready, then a secret and a service
// with a replica on each agent whose file appears on both mounts. Real processes, real FUSE, real TLS.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, childEnv, runCli, waitFor } from '../helpers/manager.js';
import { fuseSkipReason } from '../helpers/env.js';
import { forceUnmount } from '../helpers/agent.js';
import { killLeftoverTasks } from '../helpers/managed-agent.js';
import { freePort } from '../helpers/free-port.js';

const skip = fuseSkipReason();

function status(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

t.test('from nothing to a manager and two agents, by the guide (no systemd)', skip ? { skip } : {}, async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'rs-ops-'));
  chmodSync(base, 0o755);
  const procs: ChildProcess[] = [];
  const mounts: string[] = [];
  const agentStates: string[] = [];
  t.teardown(async () => {
    // Agents first (they stop their tasks), then the manager.
    for (const p of [...procs].reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const gone = new Promise((r) => p.once('close', r));
      p.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 15_000))]);
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
    for (const m of mounts) forceUnmount(m);
    for (const s of agentStates) await killLeftoverTasks(s);
    rmSync(base, { recursive: true, force: true });
  });
  const start = (args: string[]): ChildProcess => {
    const p = spawn(process.execPath, [BIN, ...args], { env: childEnv(), stdio: ['ignore', 'ignore', 'ignore'] });
    procs.push(p);
    return p;
  };

  // §2: the manager.
  const [apiPort, mMetrics] = [await freePort(), await freePort()];
  const stateDir = join(base, 'var-lib-runsecrets');
  const socket = join(base, 'manager.sock');
  const init = await runCli(['manager', 'init', '--state-dir', stateDir, '--advertise-addr', `127.0.0.1:${apiPort}`]);
  t.equal(init.code, 0, init.stderr);
  t.match(init.stdout, `RUNSECRETS_TOKEN=RSTKN-1-`, 'init prints the join command');
  t.match(init.stdout, `runsecrets agent run --manager 127.0.0.1:${apiPort}`, 'with the advertise address');
  const managerYaml = join(base, 'manager.yaml');
  writeFileSync(managerYaml, `state-dir: ${stateDir}\nsocket: ${socket}\nlisten: 127.0.0.1:${apiPort}\nmetrics-listen: 127.0.0.1:${mMetrics}\nlog-level: info\n`);
  start(['manager', 'run', '--config', managerYaml]);
  await waitFor(async () => (await status(mMetrics, '/readyz')) === 200, 'the manager /readyz', 30_000);
  const host = { RUNSECRETS_HOST: `unix://${socket}` };
  const token = await runCli(['manager', 'join-token', 'worker', '-q', '--socket', socket]);
  t.equal(token.code, 0, token.stderr);

  // §3: two agents. The token goes in a root-only file where the build has --token-file, else in the config file.
  const help = await runCli(['agent', 'run', '--help']);
  const tokenFileFlag = help.stdout.includes('--token-file');
  for (const name of ['worker-a', 'worker-b']) {
    const dir = join(base, name);
    mkdirSync(dir, { mode: 0o755 });
    const mount = join(dir, 'secrets');
    const state = join(dir, 'state');
    mounts.push(mount);
    agentStates.push(state);
    const port = await freePort();
    let tokenLine = `token: ${token.stdout.trim()}`;
    if (tokenFileFlag) {
      writeFileSync(join(dir, 'join-token'), token.stdout, { mode: 0o600 });
      tokenLine = `token-file: ${join(dir, 'join-token')}`;
    }
    const yaml = join(dir, 'agent.yaml');
    writeFileSync(yaml, `manager: 127.0.0.1:${apiPort}\n${tokenLine}\nstate-dir: ${state}\nmount: ${mount}\nhostname: ${name}\nmetrics-listen: 127.0.0.1:${port}\nlabel: [zone=${name}]\nruntime: process\n`);
    // runtime: process, since the service runs a host command (`sleep`), not an image.
    start(['agent', 'run', '--config', yaml]);
    await waitFor(async () => (await status(port, '/readyz')) === 200, `${name} /readyz`, 30_000);
  }
  const nodes = await runCli(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'], { env: host });
  t.equal(nodes.code, 0, nodes.stderr);
  t.match(nodes.stdout, /^worker-a Ready$/m, 'worker-a is Ready');
  t.match(nodes.stdout, /^worker-b Ready$/m, 'worker-b is Ready');

  // A secret for a service with one replica on each agent (spread by the scheduler).
  t.equal((await runCli(['secret', 'create', 'walkthrough_pw', '-'], { env: host, input: 'walkthrough-bytes' })).code, 0);
  const svc = await runCli(['service', 'create', '--name', 'web', '--replicas', '2', '--secret', 'walkthrough_pw', '--detach', 'none', 'sleep', '1d'], { env: host });
  t.equal(svc.code, 0, svc.stderr);
  for (const m of mounts) {
    const file = await waitFor(() => {
      const tasks = existsSync(m) ? readdirSync(m) : [];
      return tasks.map((d) => join(m, d, 'walkthrough_pw')).find((f) => existsSync(f)) ?? null;
    }, `the secret on ${m}`, 30_000);
    t.equal(readFileSync(file, 'utf8'), 'walkthrough-bytes', `the task's file on ${m}`);
  }
});
