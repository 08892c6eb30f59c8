// The process runtime (agent/executor Executor) seen through the Engine API's part of the TaskRuntime seam, for the
// engine-api tests: the Executor on this branch has no inspect()/execCommand() (the worker helper adds them), so
// this adapter builds them from the specs it started and the executor's execTarget(). Output goes to a log store.
import { EventEmitter } from 'node:events';
import { Executor } from '../../agent/executor/executor.js';
import { privilegeDrop } from '../../agent/executor/launcher.js';
import { findTools } from '../../agent/executor/tools.js';
import { DEFAULT_PATH, parseUser, type TaskStatus } from '../../agent/executor/spec.js';
import type { ContainerInfo, ExecRequest, HostCommand, RuntimeTaskSpec } from '../../agent/runtime/runtime.js';
import type { EngineRuntime } from '../../agent/engine-api/containers.js';
import { containerIdOf } from '../../shared/container-id.js';
import { createLogger } from '../../shared/log.js';

export class ProcessRuntimeAdapter extends EventEmitter {
  readonly ex = new Executor({ logger: createLogger('executor', process.env.RS_TEST_LOG ? 'debug' : 'silent') });
  private readonly specs = new Map<string, { spec: RuntimeTaskSpec; created: string; startedAt?: string; finishedAt?: string }>();

  constructor(private readonly onOutput?: (id: string, stream: 'stdout' | 'stderr', chunk: Buffer) => void) {
    super();
    this.ex.on('status', (s) => {
      const r = this.specs.get(s.id);
      if (r && s.state === 'running') r.startedAt = s.timestamp;
      if (r && ['complete', 'failed', 'shutdown', 'rejected'].includes(s.state)) r.finishedAt = s.timestamp;
      this.emit('status', s);
    });
  }

  /** Starts a task; its output is read from the executor's child (the worker does this through 'output'). */
  async start(spec: RuntimeTaskSpec): Promise<TaskStatus> {
    this.specs.set(spec.id, { spec, created: new Date().toISOString() });
    const p = this.ex.start(spec);
    // The executor keeps only a tail of the output: tap the child's pipes for the log store.
    const child = (this.ex as unknown as { tasks: Map<string, { child?: { stdout: NodeJS.ReadableStream; stderr: NodeJS.ReadableStream } }> }).tasks.get(spec.id);
    const hook = (): void => {
      const c = child?.child;
      if (!c) {
        const st = this.ex.status(spec.id);
        if (st && ['complete', 'failed', 'shutdown', 'rejected'].includes(st.state)) return;
        return void setImmediate(hook);
      }
      c.stdout.on('data', (b: Buffer) => this.onOutput?.(spec.id, 'stdout', b));
      c.stderr.on('data', (b: Buffer) => this.onOutput?.(spec.id, 'stderr', b));
    };
    hook();
    return p;
  }

  list(): TaskStatus[] {
    return this.ex.list();
  }

  inspect(id: string): ContainerInfo | undefined {
    const r = this.specs.get(id);
    const st = this.ex.status(id);
    if (!r || !st) return undefined;
    const argv = [...(r.spec.command ?? []), ...(r.spec.args ?? [])];
    const info: ContainerInfo = {
      containerId: containerIdOf(id),
      taskId: id,
      name: r.spec.name,
      image: r.spec.image ?? '',
      path: argv[0] ?? '',
      args: argv.slice(1),
      env: r.spec.env ?? [],
      user: r.spec.user ?? '',
      workingDir: r.spec.dir ?? '/',
      hostname: r.spec.hostname ?? '',
      labels: r.spec.labels ?? {},
      created: r.created,
      status: st,
      mounts: [],
    };
    if (r.startedAt) info.startedAt = r.startedAt;
    if (r.finishedAt) info.finishedAt = r.finishedAt;
    if (st.pid !== undefined) info.pid = st.pid;
    return info;
  }

  execCommand(id: string, req: ExecRequest): HostCommand {
    const t = this.ex.execTarget(id);
    const tools = findTools();
    const who = req.user !== undefined ? parseUser(req.user) : { uid: t.uid, gid: t.gid };
    const env = [...t.env, ...(req.tty ? ['TERM=xterm'] : []), ...(req.env ?? [])];
    return {
      file: tools.nsenter,
      args: [`--target=${t.pid}`, '--mount', '--pid', '--uts', '--ipc', `--wd=${req.workingDir ?? t.dir}`, '--', ...privilegeDrop(tools.setpriv, who), tools.env, '-i', ...env, ...req.argv],
      env: { PATH: DEFAULT_PATH },
    };
  }
}

export const asEngineRuntime = (a: ProcessRuntimeAdapter): EngineRuntime => a as unknown as EngineRuntime;
