// The Engine API's view of the process runtime (agent/executor Executor) until the worker's TaskRuntime is wired:
// inspect() from what the agent knows of each task (describe) and the executor's status, execCommand() as
// nsenter into the task's namespaces with its user, folder and environment (what Executor.exec runs).
import { Executor } from '../executor/executor.js';
import { privilegeDrop } from '../executor/launcher.js';
import { findTools } from '../executor/tools.js';
import { DEFAULT_PATH, FINAL_STATES, parseUser, type TaskStatus } from '../executor/spec.js';
import type { ContainerInfo, ExecRequest, HostCommand } from '../runtime/runtime.js';
import { containerIdOf, containerNameOf } from '../../shared/container-id.js';
import type { TaskAssignment } from '../../shared/protocol.js';
import type { EngineRuntime } from './containers.js';

/** What the agent knows of a task beyond its process: Docker's name, labels, image, command. */
export interface TaskDescription {
  name: string;
  image?: string;
  labels?: Record<string, string>;
  argv: string[];
  env?: string[];
  user?: string;
  dir?: string;
  hostname?: string;
}

/** A task's name and Swarm labels (reference §1.7) from its assignment. */
export function describeAssignment(a: TaskAssignment, nodeId: string): TaskDescription {
  const name = containerNameOf({ serviceName: a.serviceName, slot: a.slot, nodeId, id: a.id });
  const d: TaskDescription = {
    name,
    argv: [...(a.command ?? []), ...(a.args ?? [])],
    labels: {
      'com.docker.swarm.node.id': nodeId,
      'com.docker.swarm.service.id': a.serviceId,
      'com.docker.swarm.service.name': a.serviceName,
      'com.docker.swarm.task': '',
      'com.docker.swarm.task.id': a.id,
      'com.docker.swarm.task.name': name,
    },
  };
  if (a.env) d.env = a.env;
  if (a.user) d.user = a.user;
  if (a.dir) d.dir = a.dir;
  return d;
}

export function executorRuntime(ex: Executor, describe: (id: string) => TaskDescription | undefined): EngineRuntime {
  const times = new Map<string, { created: string; startedAt?: string; finishedAt?: string }>();
  ex.on('status', (s: TaskStatus) => {
    const t = times.get(s.id) ?? { created: s.timestamp };
    if (s.state === 'running') t.startedAt = s.timestamp;
    if (FINAL_STATES.has(s.state)) t.finishedAt = s.timestamp;
    times.set(s.id, t);
  });
  const inspect = (id: string): ContainerInfo | undefined => {
    const st = ex.status(id);
    const d = describe(id);
    if (!st || !d) return undefined;
    const t = times.get(id) ?? { created: st.timestamp };
    const info: ContainerInfo = {
      containerId: containerIdOf(id),
      taskId: id,
      name: d.name,
      image: d.image ?? '',
      path: d.argv[0] ?? '',
      args: d.argv.slice(1),
      env: d.env ?? [],
      user: d.user ?? '',
      workingDir: d.dir ?? '/',
      hostname: d.hostname ?? '',
      labels: d.labels ?? {},
      created: t.created,
      status: st,
      mounts: [],
    };
    if (t.startedAt) info.startedAt = t.startedAt;
    if (t.finishedAt) info.finishedAt = t.finishedAt;
    if (st.pid !== undefined) info.pid = st.pid;
    return info;
  };
  const execCommand = (id: string, req: ExecRequest): HostCommand => {
    const x = ex.execTarget(id);
    const tools = findTools();
    const who = req.user !== undefined ? parseUser(req.user) : { uid: x.uid, gid: x.gid };
    // The daemon's env for an exec (reference §1.6): the task's, TERM=xterm with a TTY, then the exec's own.
    const env = [...x.env, ...(req.tty ? ['TERM=xterm'] : []), ...(req.env ?? [])];
    return {
      file: tools.nsenter,
      args: [`--target=${x.pid}`, '--mount', '--pid', '--uts', '--ipc', `--wd=${req.workingDir ?? x.dir}`, '--', ...privilegeDrop(tools.setpriv, who), tools.env, '-i', ...env, ...req.argv],
      env: { PATH: DEFAULT_PATH },
    };
  };
  return {
    list: () => ex.list(),
    inspect,
    execCommand,
    on: ((ev: string, l: (...a: unknown[]) => void) => ex.on(ev as 'status', l as (s: TaskStatus) => void)) as unknown as EngineRuntime['on'],
    off: ((ev: string, l: (...a: unknown[]) => void) => ex.off(ev as 'status', l as (s: TaskStatus) => void)) as unknown as EngineRuntime['off'],
  };
}
