// `service create` without -d: wait until the service has converged, as docker's CLI does (progress.go), printing
// its progress lines as docker prints them without a TTY ("overall progress: 1 out of 1 tasks", "1/1: running",
// "verify: Service <id> converged"), each when it changes. Unlike docker, which waits forever, a service that cannot
// converge ends the wait with exit 1: a task rejected by its node (its error, e.g. an unknown user), or a task that
// ended while the restart policy says it will not be replaced.
import type { SwarmApi, Json } from '../client/swarm.js';
import { CliError } from '../client/errors.js';

const POLL_MS = 200; // docker's progress poll
const DEFAULT_MONITOR_NS = 5_000_000_000; // UpdateConfig.Monitor's default: tasks must stay up this long

interface TaskView {
  id: string;
  slot: number;
  nodeId: string;
  state: string;
  desired: string;
  err: string;
  createdAt: number;
}

function taskView(t: Json): TaskView {
  const status = (t.Status ?? {}) as Json;
  return {
    id: String(t.ID ?? ''),
    slot: Number(t.Slot ?? 0),
    nodeId: String(t.NodeID ?? ''),
    state: String(status.State ?? ''),
    desired: String(t.DesiredState ?? ''),
    err: String(status.Err ?? ''),
    createdAt: Date.parse(String(t.CreatedAt ?? '')) || 0,
  };
}

/** The newest task of each slot (replicated) or node (global). */
function latestPerSlot(tasks: TaskView[], global: boolean): Map<string, TaskView> {
  const out = new Map<string, TaskView>();
  for (const t of tasks) {
    const key = global ? t.nodeId : String(t.slot);
    const cur = out.get(key);
    if (!cur || t.createdAt > cur.createdAt) out.set(key, t);
  }
  return out;
}

export interface ConvergeOptions {
  quiet: boolean;
  out: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

export async function waitForConvergence(api: SwarmApi, serviceId: string, o: ConvergeOptions): Promise<void> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const say = (line: string): void => {
    if (!o.quiet) o.out(line);
  };
  const printed = new Map<string, string>();
  const sayOnce = (key: string, line: string): void => {
    if (printed.get(key) === line) return;
    printed.set(key, line);
    say(line);
  };
  let stableSince: number | null = null;
  for (;;) {
    const svc = (await api.service(serviceId, false)).value;
    const spec = (svc.Spec ?? {}) as Json;
    const mode = (spec.Mode ?? {}) as Json;
    const global = mode.Global !== undefined;
    const replicas = global ? null : Number(((mode.Replicated ?? {}) as Json).Replicas ?? 1);
    const task = ((spec.TaskTemplate ?? {}) as Json).RestartPolicy as Json | undefined;
    const condition = String(task?.Condition ?? 'any');
    const monitorNs = Number(((spec.UpdateConfig ?? {}) as Json).Monitor ?? DEFAULT_MONITOR_NS) || DEFAULT_MONITOR_NS;
    const tasks = (await api.tasks(new Map([['service', new Set([serviceId])]]))).map(taskView);
    const slots = latestPerSlot(tasks.filter((t) => t.desired === 'running' || t.state === 'rejected' || t.state === 'failed' || t.state === 'complete'), global);
    const total = global ? slots.size : replicas!;
    let running = 0;
    for (const [key, t] of [...slots].sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))) {
      const label = global ? `${t.nodeId.slice(0, 12)}` : `${key}/${total}`;
      sayOnce(`slot:${key}`, `${label}: ${t.err !== '' ? t.err : t.state}`);
      if (t.state === 'running' && t.desired === 'running') running++;
      if (t.state === 'rejected') throw new CliError(`service ${serviceId} cannot converge: task ${t.id} was rejected: ${t.err}`);
      const ended = t.state === 'failed' || t.state === 'complete';
      if (ended && (condition === 'none' || (condition === 'on-failure' && t.state === 'complete'))) {
        throw new CliError(`service ${serviceId} cannot converge: task ${t.id} ${t.state}${t.err ? `: ${t.err}` : ''} and the restart policy (${condition}) will not replace it`);
      }
    }
    sayOnce('overall', `overall progress: ${Math.min(running, total)} out of ${total} tasks`);
    if (running >= total) {
      stableSince ??= Date.now();
      const left = Math.ceil((monitorNs / 1e6 - (Date.now() - stableSince)) / 1000);
      if (left <= 0) {
        say(`verify: Service ${serviceId} converged`);
        return;
      }
      sayOnce('verify', `verify: Waiting ${left} seconds to verify that tasks are stable...`);
    } else {
      if (stableSince !== null) printed.delete('verify');
      stableSince = null;
    }
    await sleep(POLL_MS);
  }
}
