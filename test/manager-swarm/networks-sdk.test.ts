// The Python Docker SDK (docker-py) against a real manager: networks list/create/get/remove, a service attached to a
// network by name, tasks found by a label filter (test/fixtures/stack/sdk_networks.py does the SDK calls).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isRoot, startManager } from '../helpers/manager.js';
import { toolSkipReason } from '../helpers/env.js';

const SCRIPT = fileURLToPath(new URL('../fixtures/stack/sdk_networks.py', import.meta.url));
const sdk = spawnSync('python3', ['-c', 'import docker'], { stdio: 'ignore' });
const skip = !isRoot()
  ? 'the manager runs as root (its socket and state are root-only); run the tests as root'
  : toolSkipReason(['python3']) || (sdk.status !== 0 ? 'needs the Python Docker SDK (Debian package python3-docker)' : false);
if (skip) {
  t.plan(0, `skipped: ${skip}`);
  process.exit(0);
}

const m = await startManager({ tcp: false });
t.teardown(() => m.cleanup());

t.test('docker-py: networks and a service attached to one', async (t) => {
  const r = spawnSync('python3', [SCRIPT, m.socket], { encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  t.same(out.predefined, [
    ['bridge', 'bridge', 'local'],
    ['host', 'host', 'local'],
    ['ingress', 'overlay', 'swarm'],
    ['none', 'null', 'local'],
  ]);
  const created = out.created as { id: string; name: string };
  t.equal(created.name, 'sdk_net');
  t.same(out.by_label, ['sdk_net']);
  t.same(out.duplicate, [409, 'network with name sdk_net already exists']);
  t.same(out.service_networks, [{ Target: created.id }], 'the SDK sent the name; the spec holds the ID');
  t.equal((out.tasks_by_label as string[]).length, 1, 'the task found by its service label');
  t.same(out.task_networks, [{ Target: created.id }]);
  t.match(out.remove_in_use as [number, string], [400, /^rpc error: code = FailedPrecondition desc = network \w+ is in use by service \w+$/]);
  t.equal(out.after_remove, 'not found');
});
