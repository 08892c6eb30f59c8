// Job modes (ReplicatedJob, GlobalJob; reference §8.5) as pure decisions, kept apart from reconcile.ts so that the
// rolling-update work there is not disturbed: which tasks a job starts and which it stops, from its tasks, its
// iteration and its eligible nodes. Swarmkit's rules: job tasks run to completion (DesiredState `complete`); a
// completed task is never restarted; a failed one is replaced per the restart policy; a replicated job has slots
// 0..TotalCompletions-1 and runs at most MaxConcurrent at once; a global job runs once on every eligible node;
// every spec update starts a new iteration, whose tasks alone count, and stops the older iterations' tasks.
// Wired in reconcile.ts (runJob); the dispatcher sends tasks desired `complete` to their agents as running.
import { isFinished, type TaskState } from './types.js';

export type JobMode = { kind: 'replicated-job'; maxConcurrent: number; totalCompletions: number } | { kind: 'global-job' };

export interface JobTask {
  id: string;
  slot: number;
  nodeId: string;
  /** The JobIteration.Index the task was made for. */
  iteration: number;
  state: TaskState;
  desired: TaskState;
  /** Restarts that led to this task in its slot (MaxAttempts counts them). */
  restarts: number;
}

export interface JobPolicy {
  condition: 'none' | 'on-failure' | 'any';
  maxAttempts: number;
}

export interface JobDecision {
  /** New tasks (DesiredState `complete`, the current iteration). nodeId '' for the scheduler to place. */
  start: { slot: number; nodeId: string; restarts: number }[];
  /** Tasks whose desired state becomes shutdown. */
  stop: string[];
}

/** Is a task of the job still meant to run (not told to stop) and not finished? */
const active = (t: JobTask): boolean => t.desired === 'complete' && !isFinished(t.state);

function mayRestart(t: JobTask, p: JobPolicy): boolean {
  if (p.condition === 'none') return false; // `complete` never gets here: it is done, not failed
  return p.maxAttempts === 0 || t.restarts < p.maxAttempts;
}

export function decideJob(mode: JobMode, iteration: number, tasks: JobTask[], eligibleNodes: string[], policy: JobPolicy): JobDecision {
  const out: JobDecision = { start: [], stop: [] };
  const key = (t: JobTask): string => (mode.kind === 'global-job' ? t.nodeId : String(t.slot));
  const byKey = new Map<string, JobTask[]>();
  for (const t of tasks) {
    if (t.iteration !== iteration) {
      if (active(t)) out.stop.push(t.id); // an older run of the job: replaced by this one
      continue;
    }
    const k = key(t);
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k)!.push(t);
  }

  // Per key: done (a task completed), running, or failed (then retried or given up).
  const done = new Set<string>();
  const running = new Set<string>();
  const retry = new Map<string, number>(); // key -> restarts of the replacement
  for (const [k, list] of byKey) {
    if (list.some((t) => t.state === 'complete')) {
      done.add(k);
      continue;
    }
    if (list.some(active)) {
      running.add(k);
      continue;
    }
    const last = list.reduce((a, b) => (b.restarts > a.restarts ? b : a));
    for (const t of list) if (t.desired === 'complete') out.stop.push(t.id); // failed: told to stop, as swarmkit does
    if (mayRestart(last, policy)) retry.set(k, last.restarts + 1);
    else done.add(k); // given up: the slot keeps its failed task
  }

  if (mode.kind === 'replicated-job') {
    let capacity = mode.maxConcurrent - running.size;
    for (let slot = 0; slot < mode.totalCompletions && capacity > 0; slot++) {
      const k = String(slot);
      if (done.has(k) || running.has(k)) continue;
      out.start.push({ slot, nodeId: '', restarts: retry.get(k) ?? 0 });
      capacity--;
    }
  } else {
    for (const n of eligibleNodes) {
      if (done.has(n) || running.has(n)) continue;
      out.start.push({ slot: 0, nodeId: n, restarts: retry.get(n) ?? 0 });
    }
  }
  return out;
}
