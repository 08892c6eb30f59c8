// The process runtime behind the seam: tasks as host processes in their own namespaces (agent/executor/), for hosts
// without runc. Adds what the seam asks beyond the executor: container identity for inspect, exec as a host
// command (nsenter into the task, as `task exec` does), and removal.
import { EventEmitter } from 'node:events';
import { containerIdOf } from '../../shared/container-id.js';
import { Executor, type ExecutorOptions } from '../executor/executor.js';
import { privilegeDrop } from '../executor/launcher.js';
import { DEFAULT_PATH, FINAL_STATES, parseUser, type TaskStatus } from '../executor/spec.js';
import { findTools } from '../executor/tools.js';
import type { ContainerInfo, ExecRequest, HostCommand, RuntimeTaskSpec, TaskRuntime } from './runtime.js';

interface Known {
  spec: RuntimeTaskSpec;
  created: string;
  startedAt?: string;
  finishedAt?: string;
}

export class ProcessRuntime extends EventEmitter implements TaskRuntime {
  readonly name = 'process' as const;
  /** The executor underneath (tests and the standalone agent use it directly). */
  readonly executor: Executor;
  private readonly known = new Map<string, Known>();

  constructor(opts: ExecutorOptions = {}) {
    super();
    this.executor = new Executor(opts);
    this.executor.on('status', (s) => {
      const k = this.known.get(s.id);
      if (k && s.state === 'running') k.startedAt ??= s.timestamp;
      if (k && FINAL_STATES.has(s.state)) k.finishedAt ??= s.timestamp;
      this.emit('status', s);
    });
    this.executor.on('launched', (l) => this.emit('launched', l));
    this.executor.on('output', (o) => this.emit('output', o));
  }

  start(spec: RuntimeTaskSpec): Promise<TaskStatus> {
    this.known.set(spec.id, { spec, created: new Date().toISOString() });
    // On the host's root, a relative config target has no place of its own: bound at /<target> as Docker does,
    // for callers that ask (the worker keeps them in the task's folder for this runtime instead).
    const configMounts = (spec.configMounts ?? []).map((m) => ({ source: m.source, target: `/${m.target}` }));
    // Docker sets HOSTNAME before the task's own env, which may override it.
    const env = spec.hostname !== undefined && !(spec.env ?? []).some((e) => e.startsWith('HOSTNAME=')) ? [`HOSTNAME=${spec.hostname}`, ...(spec.env ?? [])] : spec.env;
    return this.executor.start({ ...spec, ...(env ? { env } : {}), absoluteMounts: [...(spec.absoluteMounts ?? []), ...configMounts] });
  }

  stop(id: string): Promise<TaskStatus> {
    return this.executor.stop(id);
  }

  stopAll(): Promise<void> {
    return this.executor.stopAll();
  }

  async signal(id: string, sig: NodeJS.Signals): Promise<void> {
    this.executor.signal(id, sig);
  }

  /** Forgets a finished task (a process leaves nothing else behind); refuses a running one, as Docker does. */
  async remove(id: string): Promise<void> {
    const st = this.executor.status(id);
    if (st && !FINAL_STATES.has(st.state)) {
      throw new Error(`cannot remove container "${containerIdOf(id)}": container is running: stop the container before removing`);
    }
    this.executor.forget(id);
    this.known.delete(id);
  }

  status(id: string): TaskStatus | undefined {
    return this.executor.status(id);
  }

  list(): TaskStatus[] {
    return this.executor.list();
  }

  inspect(id: string): ContainerInfo | undefined {
    const k = this.known.get(id);
    const status = this.executor.status(id);
    if (!k || !status) return undefined;
    const s = k.spec;
    const argv = [...(s.command ?? []), ...(s.args ?? [])];
    let user = s.user ?? '0:0';
    let env = s.env ?? [];
    let workingDir = s.dir ?? '/';
    if (status.state === 'running') {
      try {
        const x = this.executor.execTarget(id);
        user = `${x.uid}:${x.gid}`;
        env = x.env;
        workingDir = x.dir;
      } catch {
        /* it ended meanwhile: the spec's values */
      }
    }
    const mounts = [
      ...(s.secretsDir !== undefined ? [{ source: s.secretsDir, destination: '/run/secrets', rw: false }] : []),
      ...(s.absoluteMounts ?? []).map((m) => ({ source: m.source, destination: m.target, rw: false })),
      ...(s.configMounts ?? []).map((m) => ({ source: m.source, destination: `/${m.target}`, rw: false })),
    ];
    const info: ContainerInfo = {
      containerId: containerIdOf(id), taskId: id, name: s.name, image: s.image ?? '', path: argv[0] ?? '',
      args: argv.slice(1), env: [...env], user, workingDir, hostname: s.hostname ?? '', labels: { ...(s.labels ?? {}) },
      created: k.created, status, mounts,
    };
    if (k.startedAt) info.startedAt = k.startedAt;
    if (k.finishedAt) info.finishedAt = k.finishedAt;
    if (status.pid !== undefined && status.state === 'running') info.pid = status.pid;
    return info;
  }

  /** nsenter into the task's namespaces, its user (or req.user), working folder and environment (req.env over it). */
  execCommand(id: string, req: ExecRequest): HostCommand {
    const x = this.executor.execTarget(id); // throws when not running
    if (req.argv.length === 0) throw new Error('No exec command specified');
    if (req.argv[0]!.includes('=')) throw new Error(`invalid command "${req.argv[0]}": an executable name cannot contain "="`);
    const who = req.user !== undefined && req.user !== '' ? parseUser(req.user) : { uid: x.uid, gid: x.gid };
    const tools = findTools();
    // The daemon's exec env (reference §1.6): the task's, TERM=xterm under a tty unless the task sets TERM, the exec's.
    const tty = req.tty && !x.env.some((e) => e.startsWith('TERM=')) ? ['TERM=xterm'] : [];
    const env = overEnv([...x.env, ...tty], req.env ?? []);
    return {
      file: tools.nsenter,
      args: [
        `--target=${x.pid}`, '--mount', '--pid', '--uts', '--ipc', `--wd=${req.workingDir ?? x.dir}`, '--',
        ...privilegeDrop(tools.setpriv, who), tools.env, '-i', ...env, ...req.argv,
      ],
      env: { PATH: DEFAULT_PATH },
    };
  }
}

/** Docker's rule for an exec's Env over the task's: a key already there is replaced in place, a new one appended. */
function overEnv(base: readonly string[], extra: readonly string[]): string[] {
  const out = [...base];
  for (const e of extra) {
    const eq = e.indexOf('=');
    if (eq <= 0) continue;
    const key = e.slice(0, eq + 1);
    const i = out.findIndex((x) => x.startsWith(key));
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}
