// Docker names containers by a 64-hex ID. A task's container ID is derived from its task ID, so that the manager
// can find the node of a container (and the container of a task) without asking every node.
import { createHash } from 'node:crypto';

export function containerIdOf(taskId: string): string {
  return createHash('sha256').update(`runsecrets-container:${taskId}`).digest('hex');
}

/** Docker's container name for a task: SERVICE.SLOT.TASKID, or SERVICE.NODEID.TASKID for a global service. */
export function containerNameOf(t: { serviceName: string; slot: number; nodeId: string; id: string }): string {
  return `${t.serviceName}.${t.slot > 0 ? String(t.slot) : t.nodeId}.${t.id}`;
}
