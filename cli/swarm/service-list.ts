// `service ls` rows (cli/command/service/formatter.go serviceContext): ID (12 chars), NAME, MODE, REPLICAS
// ("running/desired", "(max N per node)"), IMAGE (familiar name:tag, no digest), PORTS (ingress ranges).
import { naturalCompare } from '../format/natural-sort.js';
import { formatWrite } from '../format/formatter.js';
import { rowContext, subHeader, truncateID } from './columns.js';
import { displayImage } from './image-ref.js';
import { get, num, str, type Json } from './json.js';

export const SERVICE_TABLE_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}';
const SERVICE_RAW_FORMAT = 'id: {{.ID}}\\nname: {{.Name}}\\nmode: {{.Mode}}\\nreplicas: {{.Replicas}}\\nimage: {{.Image}}\\nports: {{.Ports}}\\n';

export function serviceListFormat(source: string, quiet: boolean): string {
  if (source === 'table') return quiet ? '{{.ID}}' : SERVICE_TABLE_FORMAT;
  if (source === 'raw') return quiet ? 'id: {{.ID}}' : SERVICE_RAW_FORMAT;
  return source;
}

export function serviceMode(s: Json): string {
  const mode = get(s, 'Spec', 'Mode');
  if (get(mode, 'Global') != null) return 'global';
  if (get(mode, 'Replicated') != null) return 'replicated';
  if (get(mode, 'ReplicatedJob') != null) return 'replicated job';
  if (get(mode, 'GlobalJob') != null) return 'global job';
  return '';
}

function replicas(s: Json): string {
  const st = get(s, 'ServiceStatus');
  const running = num(get(st, 'RunningTasks'));
  const desired = num(get(st, 'DesiredTasks'));
  const completed = num(get(st, 'CompletedTasks'));
  const mode = get(s, 'Spec', 'Mode');
  const job = get(mode, 'ReplicatedJob');
  if (job != null) return `${running}/${desired} (${completed}/${num(get(job, 'TotalCompletions'))} completed)`;
  if (get(mode, 'GlobalJob') != null) return `${running}/${desired} (${completed}/${desired + completed} completed)`;
  const max = serviceMode(s) === 'replicated' ? num(get(s, 'Spec', 'TaskTemplate', 'Placement', 'MaxReplicas')) : 0;
  if (max > 0) return `${running}/${desired} (max ${max} per node)`;
  return `${running}/${desired}`;
}

/** Published ingress ports, consecutive ones grouped into ranges ("*:80-81->80-81/tcp"), joined by ", ". */
export function servicePorts(s: Json): string {
  const raw = get(s, 'Endpoint', 'Ports');
  if (!Array.isArray(raw)) return '';
  const ports = raw.map((p) => ({
    published: num(get(p, 'PublishedPort')),
    target: num(get(p, 'TargetPort')),
    protocol: str(get(p, 'Protocol')),
    mode: str(get(p, 'PublishMode')),
  }));
  ports.sort((a, b) => (a.protocol === b.protocol ? a.published - b.published : a.protocol < b.protocol ? -1 : 1));
  const out: string[] = [];
  let pr = { pStart: 0, pEnd: 0, tStart: 0, tEnd: 0, protocol: '' };
  const show = (r: typeof pr): string =>
    `*:${r.pEnd > r.pStart ? `${r.pStart}-${r.pEnd}` : r.pStart}->${r.tEnd > r.tStart ? `${r.tStart}-${r.tEnd}` : r.tStart}/${r.protocol}`;
  // Go's uint32 arithmetic: a smaller port minus a larger one wraps around, i.e. "not consecutive".
  const gap = (a: number, b: number): number => (a - b) >>> 0;
  for (const p of ports) {
    if (p.mode !== 'ingress') continue;
    const isRange = pr.tEnd !== pr.tStart;
    const overlaps = p.target <= pr.tEnd;
    if (p.protocol !== pr.protocol || gap(p.published, pr.pEnd) > 1 || gap(p.target, pr.tEnd) > 1 || (isRange && overlaps)) {
      if (pr.pStart > 0) out.push(show(pr));
      pr = { pStart: p.published, pEnd: p.published, tStart: p.target, tEnd: p.target, protocol: p.protocol };
      continue;
    }
    pr.pEnd = p.published;
    pr.tEnd = p.target;
  }
  if (pr.pStart > 0) out.push(show(pr));
  return out.join(', ');
}

export function serviceContext(s: Json) {
  return rowContext('*service.serviceContext', {
    ID: () => truncateID(str(get(s, 'ID'))),
    Name: () => str(get(s, 'Spec', 'Name')),
    Mode: () => serviceMode(s),
    Replicas: () => replicas(s),
    Image: () => displayImage(str(get(s, 'Spec', 'TaskTemplate', 'ContainerSpec', 'Image'))),
    Ports: () => servicePorts(s),
  });
}

export const SERVICE_HEADER = subHeader([
  ['ID', 'ID'],
  ['Name', 'NAME'],
  ['Mode', 'MODE'],
  ['Replicas', 'REPLICAS'],
  ['Image', 'IMAGE'],
  ['Ports', 'PORTS'],
]);

export function printServices(services: Json[], format: string, quiet: boolean): string {
  const sorted = [...services].sort((a, b) => naturalCompare(str(get(a, 'Spec', 'Name')), str(get(b, 'Spec', 'Name'))));
  return formatWrite(serviceListFormat(format, quiet), sorted.map(serviceContext), SERVICE_HEADER);
}
