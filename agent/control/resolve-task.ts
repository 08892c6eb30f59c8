// Which of this agent's tasks a `task exec` argument names, as docker resolves containers: the full ID, then the
// task's name (SERVICE.SLOT, SERVICE.NODEID for a global service, or either followed by .TASKID as docker's container
// names are), then a unique ID prefix. Only the agent's own tasks are candidates.

export interface KnownTask {
  id: string;
  serviceName: string;
  /** 0 for a global service's task (named by node ID). */
  slot: number;
  /** Whether the manager wants it running (an old task of the slot may still be stopping). */
  wanted: boolean;
}

export class TaskLookupError extends Error {
  override name = 'TaskLookupError';
}

/** The name `service ps` shows for a task of this node. */
export function taskName(t: KnownTask, nodeId: string): string {
  return `${t.serviceName}.${t.slot !== 0 ? String(t.slot) : nodeId}`;
}

export function resolveTask(query: string, tasks: readonly KnownTask[], nodeId: string): KnownTask {
  if (query === '') throw new TaskLookupError('a task ID or name is required');
  const byId = tasks.find((t) => t.id === query);
  if (byId) return byId;
  const named = tasks.filter((t) => taskName(t, nodeId) === query || `${taskName(t, nodeId)}.${t.id}` === query);
  // An old task of the slot may still be stopping while its replacement starts: the wanted one is meant.
  const pick = named.length > 1 ? named.filter((t) => t.wanted) : named;
  if (pick.length === 1) return pick[0]!;
  if (pick.length > 1) throw new TaskLookupError(`task name "${query}" is ambiguous: it names ${pick.length} tasks of this node (${pick.map((t) => t.id).join(', ')})`);
  const prefixed = tasks.filter((t) => t.id.startsWith(query));
  if (prefixed.length === 1) return prefixed[0]!;
  if (prefixed.length > 1) {
    throw new TaskLookupError(`task ID prefix "${query}" is ambiguous: it matches ${prefixed.length} tasks of this node (${prefixed.map((t) => t.id).join(', ')})`);
  }
  throw new TaskLookupError(`No such task: ${query} (this agent knows only its own node's tasks)`);
}
