// What makes a task a Swarm container: its name, labels and hostname, as Docker's executor derives them
// (docker-swarm-wave2.md §1.6, §1.7). Pure.
import { containerIdOf, containerNameOf } from '../../shared/container-id.js';
import type { TaskAssignment } from '../../shared/protocol.js';

export interface ContainerIdentity {
  name: string;
  labels: Record<string, string>;
  hostname: string;
}

export function containerIdentity(a: TaskAssignment, nodeId: string): ContainerIdentity {
  const name = containerNameOf({ serviceName: a.serviceName, slot: a.slot, nodeId, id: a.id });
  // ContainerSpec.Labels and the task's (merged by the manager), then Swarm's own, which always win.
  const labels: Record<string, string> = {
    ...(a.labels ?? {}),
    'com.docker.swarm.task': '',
    'com.docker.swarm.task.id': a.id,
    'com.docker.swarm.task.name': name,
    'com.docker.swarm.node.id': nodeId,
    'com.docker.swarm.service.id': a.serviceId,
    'com.docker.swarm.service.name': a.serviceName,
  };
  // Docker: an empty hostname becomes the first 12 characters of the container ID.
  const hostname = a.hostname !== undefined && a.hostname !== '' ? a.hostname : containerIdOf(a.id).slice(0, 12);
  return { name, labels, hostname };
}
