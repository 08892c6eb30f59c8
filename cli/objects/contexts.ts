// docker's formatter contexts for secrets and configs: the row context of `ls` (ID, Name, Driver, CreatedAt,
// UpdatedAt, Labels, Label "k"), its header row, and the `inspect --pretty` context and templates.
import { humanDuration } from '../format/human-duration.js';
import { GoMap, GoStruct, type GoMethod, type GoValue } from '../format/go-values.js';
import type { ObjectKind } from '../client/objects.js';
import type { ObjectView } from './model.js';

export const SECRET_TABLE_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}';
export const CONFIG_TABLE_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.CreatedAt}}\t{{.UpdatedAt}}';
export const QUIET_FORMAT = '{{.ID}}';

// Note the uneven spacing: it is docker's, byte for byte.
export const SECRET_PRETTY_TEMPLATE = `ID:              {{.ID}}
Name:              {{.Name}}
{{- if .Labels }}
Labels:
{{- range $k, $v := .Labels }}
 - {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{ end }}
Driver:            {{.Driver}}
Created at:        {{.CreatedAt}}
Updated at:        {{.UpdatedAt}}`;

export const CONFIG_PRETTY_TEMPLATE = `ID:\t\t\t{{.ID}}
Name:\t\t\t{{.Name}}
{{- if .Labels }}
Labels:
{{- range $k, $v := .Labels }}
 - {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{ end }}
Created at:            \t{{.CreatedAt}}
Updated at:            \t{{.UpdatedAt}}
Data:
{{.Data}}`;

/** NewFormat: "table" means the default table (or the quiet format with -q); "pretty" the pretty template. */
export function resolveFormat(kind: ObjectKind, source: string, quiet: boolean): string {
  if (source === 'pretty') return kind === 'secret' ? SECRET_PRETTY_TEMPLATE : CONFIG_PRETTY_TEMPLATE;
  if (source === 'table') {
    if (quiet) return QUIET_FORMAT;
    return kind === 'secret' ? SECRET_TABLE_FORMAT : CONFIG_TABLE_FORMAT;
  }
  return source;
}

/** Labels as "k=v" joined by ","; docker iterates a Go map (random order), we sort for stable output. */
function joinLabels(labels: GoMap): string {
  if (labels.isNil) return '';
  return labels.sortedKeys().map((k) => `${k}=${String(labels.entries.get(k) ?? '')}`).join(',');
}

/** The `ls` row context (secret.secretContext / config.configContext). */
export function listContext(kind: ObjectKind, v: ObjectView, now: number): GoStruct {
  const methods: Record<string, GoMethod> = {
    ID: () => v.id,
    Name: () => v.name,
    CreatedAt: () => humanDuration(now - v.createdAt.epochMillis()) + ' ago',
    UpdatedAt: () => humanDuration(now - v.updatedAt.epochMillis()) + ' ago',
    Labels: () => joinLabels(v.labels),
    Label: (name: GoValue) => (v.labels.entries.get(String(name)) as string | undefined) ?? '',
  };
  if (kind === 'secret') methods.Driver = () => v.driver;
  // formatter.MarshalJSON: every exported method without arguments, by name.
  const marshal = (): GoValue => {
    const m = new Map<string, GoValue>();
    for (const [name, fn] of Object.entries(methods)) if (fn.length === 0) m.set(name, fn());
    return new GoMap(m, 'map[string]interface {}');
  };
  return new GoStruct(`*${kind}.${kind}Context`, [], methods, marshal);
}

/** The header row context (formatter.SubHeaderContext with its Label method). */
export function headerContext(kind: ObjectKind): GoMap {
  const entries = new Map<string, GoValue>([
    ['ID', 'ID'],
    ['Name', 'NAME'],
    ...(kind === 'secret' ? ([['Driver', 'DRIVER']] as Array<[string, GoValue]>) : []),
    ['CreatedAt', 'CREATED'],
    ['UpdatedAt', 'UPDATED'],
    ['Labels', 'LABELS'],
  ]);
  const label = (name: GoValue): GoValue => {
    const parts = String(name).split('.');
    return parts[parts.length - 1]!.replace(/[-_]/g, ' ');
  };
  return new GoMap(entries, 'formatter.SubHeaderContext', false, { Label: label });
}

/** formatter.PrettyPrint: first character upper-cased, the rest lower-cased. */
export function prettyPrint(s: string): string {
  if (s.length === 0) return s;
  if (s.length === 1) return s.toLowerCase();
  return s[0]!.toUpperCase() + s.slice(1).toLowerCase();
}

/** The `inspect --pretty` context (secretInspectContext / configInspectContext). */
export function prettyContext(kind: ObjectKind, v: ObjectView): GoStruct {
  const methods: Record<string, GoMethod> = {
    ID: () => v.id,
    Name: () => v.name,
    Labels: () => v.labels,
    CreatedAt: () => prettyPrint(v.createdAt.toGoString()),
    UpdatedAt: () => prettyPrint(v.updatedAt.toGoString()),
  };
  if (kind === 'secret') methods.Driver = () => v.driver;
  else methods.Data = () => Buffer.from(v.data).toString('utf8');
  return new GoStruct(`*${kind}.${kind}InspectContext`, [{ name: kind === 'secret' ? 'Secret' : 'Config', value: v.typed, embedded: true }], methods);
}
