// A task as a Swarm container (agent/worker/container.ts, task-spec.ts): Docker's name, labels, hostname; and the
// runtime's spec with its folders and binds.
import t from 'tap';
import { containerIdOf } from '../../shared/container-id.js';
import type { TaskAssignment } from '../../shared/protocol.js';
import { containerIdentity } from '../../agent/worker/container.js';
import { runtimeSpec } from '../../agent/worker/task-spec.js';

const a: TaskAssignment = {
  id: 'tk1', version: 1, serviceId: 'svc1', serviceName: 'redis', slot: 2, desiredState: 'running',
  image: 'redis:alpine@sha256:' + '0'.repeat(64), labels: { 'com.docker.stack.namespace': 'st', 'com.docker.swarm.task.id': 'spoofed', app: 'x' },
  command: ['redis-server'], user: '999:1000', stopGracePeriodMs: 5000,
  files: [{ kind: 'secret', id: 's1', target: 'pw', uid: 0, gid: 0, mode: 0o400 }, { kind: 'config', id: 'c1', target: 'redis.conf', uid: 0, gid: 0, mode: 0o444 }, { kind: 'secret', id: 's2', target: '/etc/tls/key', uid: 0, gid: 0, mode: 0o400 }],
};

t.test("Swarm's container name and labels; the hostname defaults to the container ID's first 12 characters", async (t) => {
  const c = containerIdentity(a, 'node9');
  t.equal(c.name, 'redis.2.tk1');
  t.same(c.labels, {
    'com.docker.stack.namespace': 'st', app: 'x', 'com.docker.swarm.task': '', 'com.docker.swarm.task.id': 'tk1',
    'com.docker.swarm.task.name': 'redis.2.tk1', 'com.docker.swarm.node.id': 'node9', 'com.docker.swarm.service.id': 'svc1',
    'com.docker.swarm.service.name': 'redis',
  }, "the spec's labels kept, Swarm's own win");
  t.equal(c.hostname, containerIdOf('tk1').slice(0, 12));
  t.equal(containerIdentity({ ...a, hostname: 'cache' }, 'node9').hostname, 'cache', 'ContainerSpec.Hostname as given');
  t.equal(containerIdentity({ ...a, slot: 0 }, 'node9').name, 'redis.node9.tk1', 'a global task is named by its node');
});

t.test("the runtime's spec: the task's folders, its binds, what to run", async (t) => {
  const oci = runtimeSpec(a, { mountPoint: '/run/rs', nodeId: 'node9', configs: 'root' });
  t.equal(oci.secretsDir, '/run/rs/tk1');
  t.equal(oci.filesDir, '/run/rs/tk1.files');
  t.same(oci.configMounts, [{ source: '/run/rs/tk1.files/configs/redis.conf', target: 'redis.conf' }]);
  t.same(oci.absoluteMounts, [{ source: '/run/rs/tk1.files/abs/etc/tls/key', target: '/etc/tls/key' }]);
  t.equal(oci.image, a.image);
  t.equal(oci.name, 'redis.2.tk1');
  t.same([oci.command, oci.user, oci.stopGracePeriodMs], [['redis-server'], '999:1000', 5000]);
  const proc = runtimeSpec(a, { mountPoint: '/run/rs', nodeId: 'node9', configs: 'secrets-folder' });
  t.same(proc.configMounts, [], 'the process runtime gets no config binds (the config is in its folder)');
  const plain = runtimeSpec({ ...a, files: [a.files[0]!] }, { mountPoint: '/run/rs', nodeId: 'node9', configs: 'root' });
  t.equal(plain.filesDir, undefined, 'no files folder without such files');
  t.equal(plain.imageAuth, undefined, 'no credentials unless the manager sent some');
  const authed = runtimeSpec({ ...a, registryAuth: { username: 'u', password: 'p' } }, { mountPoint: '/run/rs', nodeId: 'node9', configs: 'root' });
  t.same(authed.imageAuth, { username: 'u', password: 'p' }, "the service's --with-registry-auth credentials go to the runtime's pull");
});
