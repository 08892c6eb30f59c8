// The worker's table of this node's tasks and what an assignment asks of each: pure decisions (no I/O), taken in one
// synchronous step per assignment, so that nothing is decided on a state that an await could have changed.
import type { TaskAssignment } from '../../shared/protocol.js';
import type { TaskStatus } from '../executor/spec.js';
import { objectKey } from './objects.js';
import { filesProblem, type ConfigPlace } from './placement.js';

export interface LocalTask {
  a: TaskAssignment;
  /** Started (or decided never to start: rejected, failed with the previous agent). */
  started: boolean;
  finished: boolean;
  last?: TaskStatus;
}

export type Step =
  /** The manager no longer wants it here: stop it (when it runs), remove its folders, forget it. diedWithAgent:
   * its process died with the previous agent (only the record of it is left). */
  | { kind: 'drop'; id: string; known: boolean; diedWithAgent: boolean }
  /** Its process died with the previous agent: report it failed, never start it again under the same ID. */
  | { kind: 'died-with-agent'; task: LocalTask; status: TaskStatus }
  /** A file cannot be placed: rejected with the reason (`service ps` shows it); it never runs without it. */
  | { kind: 'reject'; task: LocalTask; status: TaskStatus }
  /** Put (or rewrite in place) its files, published, then start it when start is set. refreshed: a running task's
   * files changed in place (references or bytes): its refreshSignal, if any, follows once they are published. */
  | { kind: 'files'; task: LocalTask; start: boolean; refreshed: boolean };

export interface AssignmentView {
  full: boolean;
  tasks: readonly TaskAssignment[];
  removeTasks: readonly string[];
}

export class TaskTable {
  private readonly tasks = new Map<string, LocalTask>();

  /** diedWithAgent: task IDs whose processes the previous life of this agent left (and that were killed). */
  constructor(private readonly diedWithAgent: Set<string>, private readonly configs: ConfigPlace) {}

  get(id: string): LocalTask | undefined {
    return this.tasks.get(id);
  }

  values(): LocalTask[] {
    return [...this.tasks.values()];
  }

  get size(): number {
    return this.tasks.size;
  }

  /** Decides what the assignment asks and records it in the table (tasks added, updated, dropped, started). */
  plan(msg: AssignmentView, changedObjects: ReadonlySet<string>, now: () => string = () => new Date().toISOString()): Step[] {
    const steps: Step[] = [];
    const drop = (id: string): void => {
      const died = this.diedWithAgent.delete(id);
      const known = this.tasks.delete(id);
      if (known || died) steps.push({ kind: 'drop', id, known, diedWithAgent: died });
    };
    const wanted = new Set(msg.tasks.map((a) => a.id));
    for (const id of msg.removeTasks) drop(id);
    if (msg.full) for (const id of [...this.tasks.keys(), ...this.diedWithAgent]) if (!wanted.has(id)) drop(id);

    const touched = new Set<LocalTask>();
    const refreshed = new Set<LocalTask>();
    for (const a of msg.tasks) {
      let t = this.tasks.get(a.id);
      if (!t) {
        t = { a, started: false, finished: false };
        this.tasks.set(a.id, t);
      } else {
        if (JSON.stringify(t.a.files) !== JSON.stringify(a.files)) refreshed.add(t);
        t.a = a;
      }
      touched.add(t);
    }
    for (const t of this.tasks.values()) {
      if (t.a.files.some((f) => changedObjects.has(objectKey(f.kind, f.id)))) {
        touched.add(t);
        refreshed.add(t);
      }
    }
    for (const t of touched) {
      if (t.finished) continue;
      if (!t.started && this.diedWithAgent.delete(t.a.id)) {
        t.started = true;
        t.finished = true;
        t.last = { id: t.a.id, state: 'failed', message: 'failed', err: 'task process killed: the agent was restarted', timestamp: now() };
        steps.push({ kind: 'died-with-agent', task: t, status: t.last });
        continue;
      }
      const problem = t.started ? null : filesProblem(t.a, this.configs);
      if (problem) {
        t.started = true;
        t.finished = true;
        t.last = { id: t.a.id, state: 'rejected', message: 'rejected', err: problem, timestamp: now() };
        steps.push({ kind: 'reject', task: t, status: t.last });
        continue;
      }
      const start = !t.started && t.a.desiredState === 'running';
      if (start) t.started = true;
      steps.push({ kind: 'files', task: t, start, refreshed: !start && t.started && refreshed.has(t) });
    }
    return steps;
  }

  /** A status from the runtime; returns the task when this status ends it (its folders go at once). */
  noteStatus(s: TaskStatus, final: boolean): LocalTask | undefined {
    const t = this.tasks.get(s.id);
    if (!t) return undefined;
    t.last = s;
    if (!final) return undefined;
    t.finished = true;
    return t;
  }
}
