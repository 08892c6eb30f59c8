// This node's containers as Docker shows them: found by full ID, unique ID prefix or name (reference §3.1, §3.2).
import type { ContainerInfo, TaskRuntime } from '../runtime/runtime.js';
import type { TaskState } from '../executor/spec.js';
import { EngineError, noSuchContainer } from './http.js';

/** What the Engine API needs of a runtime (agent/runtime/runtime.ts). */
export type EngineRuntime = Pick<TaskRuntime, 'list' | 'inspect' | 'execCommand' | 'on' | 'off'>;

export function allContainers(rt: EngineRuntime): ContainerInfo[] {
  const out: ContainerInfo[] = [];
  for (const s of rt.list()) {
    const c = rt.inspect(s.id);
    if (c) out.push(c);
  }
  return out;
}

/** Docker's lookup order: full ID, exact name, unique ID prefix. */
export function findContainer(rt: EngineRuntime, ref: string): ContainerInfo {
  const all = allContainers(rt);
  const name = ref.startsWith('/') ? ref.slice(1) : ref;
  const exact = all.find((c) => c.containerId === ref) ?? all.find((c) => c.name === name);
  if (exact) return exact;
  if (ref !== '' && /^[0-9a-f]+$/.test(ref)) {
    const matches = all.filter((c) => c.containerId.startsWith(ref));
    if (matches.length > 1) throw new EngineError(400, `Multiple IDs found with provided prefix: ${ref}`);
    if (matches[0]) return matches[0];
  }
  throw noSuchContainer(ref);
}

/** Docker's container state word for a task state. */
export function dockerState(s: TaskState): 'created' | 'running' | 'exited' | 'dead' {
  if (s === 'running') return 'running';
  if (s === 'complete' || s === 'failed' || s === 'shutdown' || s === 'rejected') return 'exited';
  if (s === 'orphaned' || s === 'remove') return 'dead';
  return 'created';
}

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(ms / 60_000);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(ms / 3_600_000);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** State.String(): "Up 5 seconds", "Exited (0) 3 minutes ago", "Created". */
export function statusText(c: ContainerInfo, now = Date.now()): string {
  const st = dockerState(c.status.state);
  if (st === 'running') return `Up ${humanDuration(now - Date.parse(c.startedAt ?? c.created))}`;
  if (st === 'exited') return `Exited (${c.status.exitCode ?? 0}) ${humanDuration(now - Date.parse(c.finishedAt ?? c.status.timestamp))} ago`;
  if (st === 'dead') return 'Dead';
  return 'Created';
}

/** Path + args, args with a space in single quotes (daemon/list.go). */
export function commandText(c: ContainerInfo): string {
  return [c.path, ...c.args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}

/** Docker's name filter is a regular expression over the name with its leading "/". */
function nameMatches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern).test(`/${name}`);
  } catch {
    return `/${name}`.includes(pattern);
  }
}

function labelMatches(want: string, labels: Record<string, string>): boolean {
  const eq = want.indexOf('=');
  if (eq < 0) return Object.hasOwn(labels, want);
  return labels[want.slice(0, eq)] === want.slice(eq + 1);
}

const FILTER_KEYS = new Set(['name', 'id', 'label', 'status', 'is-task', 'ancestor', 'before', 'since', 'exited', 'health', 'volume', 'network', 'publish', 'expose', 'isolation']);
const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);

/** GET /containers/json's selection: `all`, and the filters name, id, label, status, is-task. */
export function selectContainers(all: ContainerInfo[], f: Map<string, string[]>, showAll: boolean): ContainerInfo[] {
  for (const k of f.keys()) if (!FILTER_KEYS.has(k)) throw new EngineError(400, `invalid filter '${k}'`);
  for (const s of f.get('status') ?? []) {
    if (!STATUSES.has(s)) throw new EngineError(400, `invalid filter 'status=${s}'`);
  }
  const any = (k: string, pred: (v: string) => boolean): boolean => {
    const vals = f.get(k);
    return !vals || vals.length === 0 || vals.some(pred);
  };
  const statusFilter = (f.get('status') ?? []).length > 0;
  return all.filter((c) => {
    const st = dockerState(c.status.state);
    if (!showAll && !statusFilter && st !== 'running') return false;
    return (
      any('name', (v) => nameMatches(v, c.name)) &&
      any('id', (v) => c.containerId.startsWith(v)) &&
      (f.get('label') ?? []).every((v) => labelMatches(v, c.labels)) &&
      any('status', (v) => v === st) &&
      any('is-task', (v) => v === 'true')
    );
  });
}
