// `node ls` rows (cli/command/node/formatter.go nodeContext): the full ID with "*" for the node the CLI talks to,
// HOSTNAME, STATUS, AVAILABILITY, MANAGER STATUS (Leader or reachability), ENGINE VERSION; natural order by hostname.
import { formatWrite } from '../format/formatter.js';
import { naturalCompare } from '../format/natural-sort.js';
import { prettyPrint } from '../objects/contexts.js';
import { rowContext, subHeader } from './columns.js';
import { get, str, type Json } from './json.js';

export const NODE_TABLE_FORMAT =
  'table {{.ID}} {{if .Self}}*{{else}} {{ end }}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}';
const NODE_RAW_FORMAT = 'node_id: {{.ID}}\\nhostname: {{.Hostname}}\\nstatus: {{.Status}}\\navailability: {{.Availability}}\\nmanager_status: {{.ManagerStatus}}\\n';

export function nodeListFormat(source: string, quiet: boolean): string {
  if (source === 'table') return quiet ? '{{.ID}}' : NODE_TABLE_FORMAT;
  if (source === 'raw') return quiet ? 'node_id: {{.ID}}' : NODE_RAW_FORMAT;
  return source;
}

export function managerStatus(n: Json): string {
  const ms = get(n, 'ManagerStatus');
  if (ms == null) return '';
  return prettyPrint(get(ms, 'Leader') === true ? 'Leader' : str(get(ms, 'Reachability')));
}

export function nodeContext(n: Json, selfID: string) {
  return rowContext('*node.nodeContext', {
    ID: () => str(get(n, 'ID')),
    Self: () => str(get(n, 'ID')) === selfID,
    Hostname: () => str(get(n, 'Description', 'Hostname')),
    // Ours: a node pending join approval shows "Pending" (docker's CLI, which has no column for it, shows its state).
    Status: () => (str(get(n, 'Spec', 'Membership')) === 'pending' ? 'Pending' : prettyPrint(str(get(n, 'Status', 'State')))),
    Availability: () => prettyPrint(str(get(n, 'Spec', 'Availability'))),
    ManagerStatus: () => managerStatus(n),
    EngineVersion: () => str(get(n, 'Description', 'Engine', 'EngineVersion')),
    TLSStatus: () => 'Unknown',
  });
}

export const NODE_HEADER = subHeader([
  ['ID', 'ID'],
  ['Self', ''],
  ['Hostname', 'HOSTNAME'],
  ['Status', 'STATUS'],
  ['Availability', 'AVAILABILITY'],
  ['ManagerStatus', 'MANAGER STATUS'],
  ['EngineVersion', 'ENGINE VERSION'],
  ['TLSStatus', 'TLS STATUS'],
]);

export function printNodes(nodes: Json[], selfID: string, format: string, quiet: boolean): string {
  const sorted = [...nodes].sort((a, b) => naturalCompare(str(get(a, 'Description', 'Hostname')), str(get(b, 'Description', 'Hostname'))));
  return formatWrite(nodeListFormat(format, quiet), sorted.map((n) => nodeContext(n, selfID)), NODE_HEADER);
}
