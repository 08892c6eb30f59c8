// The executor's public face: tasks as processes in private mount namespaces (see executor.ts).
export { Executor, type ExecutorOptions, type ExecOptions, type ExecResult } from './executor.js';
export {
  FINAL_STATES, SECRETS_TARGET, DEFAULT_STOP_GRACE_MS, TaskSpecError, parseUser,
  type TaskSpec, type TaskStatus, type TaskState, type AbsoluteMount,
} from './spec.js';
export { TailBuffer } from './tail-buffer.js';
