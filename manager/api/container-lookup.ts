// Which task (and so which node) a container reference names: its 64-hex ID (derived from the task ID,
// shared/container-id.ts), its name SERVICE.SLOT.TASKID, or a unique ID prefix, as Docker resolves them.
import { containerIdOf, containerNameOf } from '../../shared/container-id.js';
import type { StoredObject } from '../store/types.js';
import type { TaskRecord } from '../orchestrator/types.js';
import { ApiError } from './http.js';

export interface ContainerRef {
  task: StoredObject<TaskRecord>;
  containerId: string;
  name: string;
}

export function containerRefs(tasks: StoredObject<TaskRecord>[]): ContainerRef[] {
  return tasks
    .filter((t) => t.spec.NodeID !== '')
    .map((t) => ({ task: t, containerId: containerIdOf(t.id), name: containerNameOf({ serviceName: t.spec.ServiceName, slot: t.spec.Slot, nodeId: t.spec.NodeID, id: t.id }) }));
}

export function findContainerRef(tasks: StoredObject<TaskRecord>[], ref: string): ContainerRef {
  const all = containerRefs(tasks);
  const name = ref.startsWith('/') ? ref.slice(1) : ref;
  const exact = all.find((c) => c.containerId === ref) ?? all.find((c) => c.name === name);
  if (exact) return exact;
  if (/^[0-9a-f]+$/.test(ref)) {
    const m = all.filter((c) => c.containerId.startsWith(ref));
    if (m.length > 1) throw new ApiError(400, `Multiple IDs found with provided prefix: ${ref}`);
    if (m[0]) return m[0];
  }
  throw new ApiError(404, `No such container: ${ref}`);
}
