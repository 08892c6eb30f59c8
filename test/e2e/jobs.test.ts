// Job modes with the stock docker CLI against a real manager and two real agents (process runtime): a replicated
// job (`--replicas 3 --max-concurrent 2`) runs to completion (three complete tasks, none restarted), `service ps`
// shows Complete and `service ls` Docker's "N/M (K/T completed)"; a global job runs once on every node; `service
// update --force` of a job starts a new iteration that runs every task again.
import t from 'tap';
import { rmSync } from 'node:fs';
import { fuseSkipReason } from '../helpers/env.js';
import { haveDocker, request, startManager, waitFor, type CliResult } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { dockerCli } from '../helpers/docker-cli.js';

const skip = fuseSkipReason() || (!haveDocker() ? 'needs the docker CLI on PATH (Debian package docker-cli or docker.io)' : false);
if (skip) {
  t.comment(`SKIP jobs e2e: ${skip}`);
  t.plan(0, `skipped: ${skip}`);
  process.exit(0);
}

process.env.RUNSECRETS_HEARTBEAT_MS = '500';

interface TaskJson {
  ID: string;
  Slot?: number;
  NodeID: string;
  DesiredState: string;
  Status: { State: string; ContainerStatus?: { ExitCode: number } };
  JobIteration?: { Index?: number };
}

const m = await startManager({ t });
const agents = [
  managedAgent({ managerPort: m.tcpPort, hostname: 'job-node-a', runtime: 'process' }),
  managedAgent({ managerPort: m.tcpPort, hostname: 'job-node-b', runtime: 'process' }),
];
const cli = dockerCli();
t.teardown(async () => {
  for (const a of agents) {
    await a.cleanup();
    rmSync(a.dir, { recursive: true, force: true });
  }
  cli.cleanup();
});
for (const a of agents) await a.start(m.workerToken);

const docker = async (args: string[]): Promise<CliResult> => {
  const r = await cli.run(m.dockerHost, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return r;
};
const tasksOf = async (service: string): Promise<TaskJson[]> =>
  (await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`)).json as TaskJson[];
const iteration = (x: TaskJson): number => x.JobIteration?.Index ?? 0;
/** The tasks of one iteration once all `n` of them completed. */
const completed = (service: string, n: number, index: number): Promise<TaskJson[]> =>
  waitFor(async () => {
    const run = (await tasksOf(service)).filter((x) => iteration(x) === index);
    return run.length === n && run.every((x) => x.Status.State === 'complete') ? run : null;
  }, `${n} complete tasks of ${service} (iteration ${index})`, 60_000);

t.test('a replicated job runs to completion, as Docker shows it', async (t) => {
  await docker(['service', 'create', '--name', 'batch', '--mode', 'replicated-job', '--replicas', '3', '--max-concurrent', '2', '--detach', '--no-resolve-image', 'alpine:3.19', 'true']);
  const run = await completed('batch', 3, 0);
  for (const x of run) t.match(x, { DesiredState: 'complete', Status: { State: 'complete', ContainerStatus: { ExitCode: 0 } }, JobIteration: {} });
  t.same(run.map((x) => x.Slot ?? 0).sort(), [0, 1, 2], 'one task per slot');

  const ps = await docker(['service', 'ps', '--format', '{{.DesiredState}}|{{.CurrentState}}', 'batch']);
  const lines = ps.stdout.trim().split('\n');
  t.equal(lines.length, 3);
  for (const l of lines) t.match(l, /^Complete\|Complete /, 'service ps shows Complete');
  const ls = await docker(['service', 'ls', '--filter', 'name=batch', '--format', '{{.Mode}}|{{.Replicas}}']);
  t.equal(ls.stdout.trim(), 'replicated job|0/3 (3/3 completed)', 'service ls: N/M (K/T completed)');
  const insp = await docker(['service', 'inspect', '--format', '{{json .JobStatus.JobIteration}}', 'batch']);
  t.equal(insp.stdout.trim(), '{}', 'iteration 0 shows as {} (omitempty)');
});

t.test('a global job runs once on every node', async (t) => {
  await docker(['service', 'create', '--name', 'everywhere', '--mode', 'global-job', '--detach', '--no-resolve-image', 'alpine:3.19', 'true']);
  const run = await completed('everywhere', 2, 0);
  t.equal(new Set(run.map((x) => x.NodeID)).size, 2, 'one task on each node');
  // The orchestrator ran many times since `batch` completed (every status of this job): nothing restarted there.
  t.equal((await tasksOf('batch')).length, 3, 'the completed replicated job: no task restarted');
});

t.test('service update --force of a job starts a new iteration', async (t) => {
  const before = (await tasksOf('batch')).map((x) => x.ID);
  await docker(['service', 'update', '--force', '--detach', 'batch']);
  const run = await completed('batch', 3, 1);
  t.notOk(run.some((x) => before.includes(x.ID)), 'new tasks');
  t.equal((await tasksOf('everywhere')).length, 2, 'the completed global job: not restarted meanwhile');
  const insp = await docker(['service', 'inspect', '--format', '{{json .JobStatus.JobIteration}}', 'batch']);
  t.equal(insp.stdout.trim(), '{"Index":1}');
  const ls = await docker(['service', 'ls', '--filter', 'name=batch', '--format', '{{.Replicas}}']);
  t.equal(ls.stdout.trim(), '0/3 (3/3 completed)', 'the new run counts alone');
});

t.test('service create without --detach waits for the job to complete, as with Docker', async (t) => {
  // The CLI's job progress reads JobStatus.JobIteration and the tasks' JobIteration; interrupted if it never ends.
  const r = await cli.run(m.dockerHost, ['service', 'create', '--name', 'waited', '--mode', 'replicated-job', '--replicas', '2', '--no-resolve-image', 'alpine:3.19', 'true'], undefined, 60_000);
  t.equal(r.code, 0, `the CLI returned when the job completed: ${r.stderr}`);
  t.match(r.stdout, /job complete/, 'its progress display ends with "job complete"');
  t.equal((await tasksOf('waited')).filter((x) => x.Status.State === 'complete').length, 2);
});
