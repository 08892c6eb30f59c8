// Where the worker writes each task's own output (stdout, stderr) as it comes: the agent's log store (agent/logs/),
// which keeps it for `docker logs` and `service logs`. The worker only forwards; the default keeps nothing.

export interface TaskLogSink {
  write(taskId: string, stream: 'stdout' | 'stderr', chunk: Buffer): void;
  /** The task is gone from this node: its logs go too. */
  remove(taskId: string): void;
}

export const NO_LOGS: TaskLogSink = {
  write: () => undefined,
  remove: () => undefined,
};
