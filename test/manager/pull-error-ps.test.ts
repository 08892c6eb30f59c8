// A task whose image cannot be pulled: its node rejects it with Docker's "No such image: REF" (agent/images/store.ts
// ImagePullError), and `service ps` shows it as Docker does: CURRENT STATE "Rejected …", ERROR quoted and cut to 30
// columns with "…", whole with --no-trunc; the stock docker CLI and `runsecrets service ps` print the same. The node
// is a fake one (real session, no runtime), reporting as swarmkit's controller does (Message "preparing").
import t from 'tap';
import { join } from 'node:path';
import { dockerCli } from '../helpers/docker-cli.js';
import { haveDocker, isRoot, request, startManager } from '../helpers/manager.js';
import { fakeNode } from '../helpers/fake-node.js';
import { waitFor } from '../helpers/wait.js';

const why = !isRoot() ? 'the manager runs as root; run the tests as root' : !haveDocker() ? 'no docker CLI on PATH' : false;

/** The relative time ("3 seconds ago") is the only part that may differ between two runs, and with it the widths. */
const norm = (s: string): string => s.replace(/(Rejected) (less than a second|about a minute|\d+ \w+) ago/gi, '$1 N ago').replace(/ {2,}/g, '  ');

t.test('a rejected pull shows in service ps, docker CLI and ours alike', { skip: why }, async (t) => {
  const m = await startManager({ t });
  const cli = dockerCli();
  t.teardown(() => cli.cleanup());
  const node = await fakeNode({ port: m.tcpPort, token: m.workerToken, stateDir: join(m.dir, 'node'), hostname: 'rs-pull-node' });
  t.teardown(() => node.close());

  const image = '127.0.0.1:9/missing/app:1'; // nothing listens on port 9: never resolved (--no-resolve-image)
  const created = await cli.run(m.dockerHost, ['service', 'create', '-d', '--no-resolve-image', '--restart-condition', 'none', '--name', 'broken', image]);
  t.equal(created.code, 0, created.stderr);
  const task = await node.waitTask((a) => a.serviceName === 'broken', 'the task on the node');
  const err = `No such image: ${image}`;
  node.report(task.id, 'rejected', { message: 'preparing', err });
  await waitFor('the rejection stored', async () => {
    const r = await request(m.socket, 'GET', `/tasks/${task.id}`);
    return (r.json as { Status?: { State?: string } }).Status?.State === 'rejected';
  }, { timeoutMs: 10_000 });

  const api = (await request(m.socket, 'GET', `/tasks/${task.id}`)).json as { Status: { State: string; Message: string; Err: string } };
  t.same([api.Status.State, api.Status.Message, api.Status.Err], ['rejected', 'preparing', err], "the task's status as Docker's API shows it");

  for (const trunc of [[], ['--no-trunc']]) {
    const d = await cli.run(m.dockerHost, ['service', 'ps', ...trunc, 'broken']);
    const ours = await m.cli(['service', 'ps', ...trunc, 'broken']);
    t.equal(d.code, 0, d.stderr);
    t.equal(ours.code, 0, ours.stderr);
    const row = d.stdout.split('\n')[1] ?? '';
    t.match(row, /\bRejected (less than a second|\d+ seconds?) ago\b/, 'CURRENT STATE: Rejected');
    if (trunc.length === 0) t.ok(row.includes('"No such image: 127.0.0.1:9/mi…"'), `ERROR cut to 30 columns: ${row}`);
    else t.ok(row.includes(`"${err}"`), `ERROR whole with --no-trunc: ${row}`);
    t.equal(norm(ours.stdout), norm(d.stdout), `runsecrets service ps ${trunc.join(' ')} prints what docker prints`);
  }
  const fmt = await cli.run(m.dockerHost, ['service', 'ps', '--format', '{{.Error}}', 'broken']);
  const fmtOurs = await m.cli(['service', 'ps', '--format', '{{.Error}}', 'broken']);
  t.same([fmt.stdout, fmtOurs.stdout], ['"No such image: 127.0.0.1:9/mi…"\n', '"No such image: 127.0.0.1:9/mi…"\n'], '{{.Error}}: quoted and cut, as in the table');
});
