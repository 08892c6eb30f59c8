// docker's task list (cli/command/task/print.go, formatter.go), shared by `service ps`: names are
// "<service>.<slot>" (or ".<node id>" for global services), rows sorted by natural name then newest first, older
// tasks of a slot indented with ` \_ ` in tables; columns ID NAME IMAGE NODE DESIRED STATE CURRENT STATE ERROR PORTS.
import { formatWrite, isTableFormat } from '../format/formatter.js';
import { humanDuration } from '../format/human-duration.js';
import { GoTime } from '../format/go-time.js';
import { naturalLess } from '../format/natural-sort.js';
import { prettyPrint } from '../objects/contexts.js';
import { ellipsis, rowContext, subHeader, truncateID } from './columns.js';
import { displayImage } from './image-ref.js';
import { get, num, str, type Json } from './json.js';

export const TASK_TABLE_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}';
const TASK_RAW_FORMAT = 'id: {{.ID}}\\nname: {{.Name}}\\nimage: {{.Image}}\\nnode: {{.Node}}\\ndesired_state: {{.DesiredState}}\\ncurrent_state: {{.CurrentState}}\\nerror: {{.Error}}\\nports: {{.Ports}}\\n';

export function taskFormat(source: string, quiet: boolean): string {
  if (source === 'table') return quiet ? '{{.ID}}' : TASK_TABLE_FORMAT;
  if (source === 'raw') return quiet ? 'id: {{.ID}}' : TASK_RAW_FORMAT;
  return source;
}

/** Resolves IDs to names (idresolver): service ID -> name, node ID -> name or hostname; best effort. */
export interface Resolver {
  service(id: string): Promise<string>;
  node(id: string): Promise<string>;
}

const MAX_ERR = 30;

function taskTime(v: unknown): number {
  const t = typeof v === 'string' ? GoTime.parse(v) : null;
  return (t ?? GoTime.zero()).epochMillis();
}

export interface TaskRow {
  task: Json;
  name: string;
  node: string;
}

/** Names, sorting and indentation, as task.Print does them before formatting. */
export async function taskRows(tasks: Json[], resolver: Resolver, table: boolean): Promise<TaskRow[]> {
  const named: Array<{ task: Json; name: string; created: number }> = [];
  for (const task of tasks) {
    const service = await resolver.service(str(get(task, 'ServiceID')));
    const slot = num(get(task, 'Slot'));
    const name = slot !== 0 ? `${service}.${slot}` : `${service}.${str(get(task, 'NodeID'))}`;
    named.push({ task, name, created: taskTime(get(task, 'CreatedAt')) });
  }
  // sort.Stable: natural by name, then the most recent first.
  const order = named.map((n, i) => ({ ...n, i }));
  order.sort((a, b) => {
    if (a.name !== b.name) return naturalLess(a.name, b.name) ? -1 : 1;
    if (b.created < a.created) return -1;
    if (a.created < b.created) return 1;
    return a.i - b.i;
  });
  const rows: TaskRow[] = [];
  let prev = '';
  for (const n of order) {
    const shown = n.name === prev && table ? ` \\_ ${n.name}` : n.name;
    prev = n.name;
    rows.push({ task: n.task, name: shown, node: await resolver.node(str(get(n.task, 'NodeID'))) });
  }
  return rows;
}

export function taskContext(row: TaskRow, trunc: boolean, now: number) {
  const t = row.task;
  return rowContext('*task.taskContext', {
    ID: () => (trunc ? truncateID(str(get(t, 'ID'))) : str(get(t, 'ID'))),
    Name: () => row.name,
    Image: () => {
      const image = str(get(t, 'Spec', 'ContainerSpec', 'Image'));
      return trunc ? displayImage(image) : image;
    },
    Node: () => row.node,
    DesiredState: () => prettyPrint(str(get(t, 'DesiredState'))),
    CurrentState: () =>
      `${prettyPrint(str(get(t, 'Status', 'State')))} ${humanDuration(now - taskTime(get(t, 'Status', 'Timestamp'))).toLowerCase()} ago`,
    Error: () => {
      let e = str(get(t, 'Status', 'Err'));
      if (trunc) e = ellipsis(e, MAX_ERR);
      return e.length > 0 ? `"${e}"` : e;
    },
    Ports: () => {
      const ports = get(t, 'Status', 'PortStatus', 'Ports');
      if (!Array.isArray(ports) || ports.length === 0) return '';
      return ports.map((p) => `*:${num(get(p, 'PublishedPort'))}->${num(get(p, 'TargetPort'))}/${str(get(p, 'Protocol'))}`).join(',');
    },
  });
}

export const TASK_HEADER = subHeader([
  ['ID', 'ID'],
  ['Name', 'NAME'],
  ['Image', 'IMAGE'],
  ['Node', 'NODE'],
  ['DesiredState', 'DESIRED STATE'],
  ['CurrentState', 'CURRENT STATE'],
  ['Error', 'ERROR'],
  ['Ports', 'PORTS'],
]);

/** task.Print: the whole text for a list of tasks. */
export async function printTasks(tasks: Json[], resolver: Resolver, opts: { trunc: boolean; quiet: boolean; format: string; now: number }): Promise<string> {
  const format = taskFormat(opts.format, opts.quiet);
  const rows = await taskRows(tasks, resolver, isTableFormat(format));
  return formatWrite(format, rows.map((r) => taskContext(r, opts.trunc, opts.now)), TASK_HEADER);
}
