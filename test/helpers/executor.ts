// An executor under test: records every status per task, with helpers to wait for a state or a final status.
import { Executor } from '../../agent/executor/index.js';
import type { TaskSpec, TaskStatus, TaskState } from '../../agent/executor/index.js';
import { createLogger } from '../../shared/log.js';
import { waitFor } from './wait.js';

export interface TestExecutor {
  ex: Executor;
  states(id: string): TaskState[];
  statuses(id: string): TaskStatus[];
  /** Starts spec and waits for its final status. */
  run(spec: TaskSpec, timeoutMs?: number): Promise<TaskStatus>;
  /** Waits until the task's output (stdout) contains text. */
  waitOutput(id: string, text: string, timeoutMs?: number): Promise<void>;
}

export function testExecutor(): TestExecutor {
  const ex = new Executor({ logger: createLogger('executor', process.env.RS_TEST_LOG ? 'debug' : 'silent') });
  const seen = new Map<string, TaskStatus[]>();
  ex.on('status', (s) => {
    const list = seen.get(s.id) ?? [];
    list.push(s);
    seen.set(s.id, list);
  });
  const te: TestExecutor = {
    ex,
    statuses: (id) => seen.get(id) ?? [],
    states: (id) => (seen.get(id) ?? []).map((s) => s.state),
    run: async (spec, timeoutMs = 10_000) => {
      await ex.start(spec);
      return waitFor(`task ${spec.id} to end`, () => Promise.race([ex.wait(spec.id), new Promise<undefined>((r) => setTimeout(r, 50, undefined))]), { timeoutMs });
    },
    waitOutput: async (id, text, timeoutMs = 5000) => {
      await waitFor(`"${text}" in the output of task ${id}`, () => ex.output(id)?.stdout.toString('utf8').includes(text), { timeoutMs });
    },
  };
  return te;
}
