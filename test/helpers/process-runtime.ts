// The process runtime (agent/executor Executor) behind the Engine API for tests, through the agent's adapter
// (agent/engine-api/executor-runtime.ts): tasks started here are described by their specs; output goes to onOutput.
import { Executor } from '../../agent/executor/executor.js';
import type { TaskStatus } from '../../agent/executor/spec.js';
import type { RuntimeTaskSpec } from '../../agent/runtime/runtime.js';
import type { EngineRuntime } from '../../agent/engine-api/containers.js';
import { executorRuntime } from '../../agent/engine-api/executor-runtime.js';
import { createLogger } from '../../shared/log.js';

export class ProcessRuntimeAdapter {
  readonly ex = new Executor({ logger: createLogger('executor', process.env.RS_TEST_LOG ? 'debug' : 'silent') });
  private readonly specs = new Map<string, RuntimeTaskSpec>();
  readonly runtime: EngineRuntime;

  constructor(onOutput?: (id: string, stream: 'stdout' | 'stderr', chunk: Buffer) => void) {
    this.runtime = executorRuntime(this.ex, (id) => {
      const s = this.specs.get(id);
      if (!s) return undefined;
      const d = { name: s.name, argv: [...(s.command ?? []), ...(s.args ?? [])], labels: s.labels ?? {}, image: s.image ?? '' };
      return { ...d, ...(s.env ? { env: s.env } : {}), ...(s.user ? { user: s.user } : {}), ...(s.dir ? { dir: s.dir } : {}) };
    });
    if (onOutput) this.ex.on('output', (o) => onOutput(o.id, o.stream, o.chunk));
  }

  start(spec: RuntimeTaskSpec): Promise<TaskStatus> {
    this.specs.set(spec.id, spec);
    return this.ex.start(spec);
  }
}

export const asEngineRuntime = (a: ProcessRuntimeAdapter): EngineRuntime => a.runtime;
