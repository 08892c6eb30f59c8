// `service inspect --pretty` (cli/command/service/formatter.go): docker's template, byte for byte, over a context
// whose methods read the service JSON. Fields runsecrets does not use (mounts, logging, health checks, ...) read
// as absent, so their blocks print only when the manager returns them.
import { GoMap, GoStruct, type GoMethod, type GoValue } from '../format/go-values.js';
import { fromRawJSON } from '../format/go-values.js';
import { humanDuration } from '../format/human-duration.js';
import { GoTime } from '../format/go-time.js';
import { get, isObj, num, str, strs, type Json } from './json.js';
import { formatDuration } from './go-parse.js';

export const SERVICE_PRETTY_TEMPLATE = `
ID:		{{.ID}}
Name:		{{.Name}}
{{- if .Labels }}
Labels:
{{- range $k, $v := .Labels }}
 {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{ end }}
Service Mode:
{{- if .IsModeGlobal }}	Global
{{- else if .IsModeReplicated }}	Replicated
{{- if .ModeReplicatedReplicas }}
 Replicas:	{{ .ModeReplicatedReplicas }}
{{- end }}{{ end }}
{{- if .HasUpdateStatus }}
UpdateStatus:
 State:		{{ .UpdateStatusState }}
{{- if .HasUpdateStatusStarted }}
 Started:	{{ .UpdateStatusStarted }}
{{- end }}
{{- if .UpdateIsCompleted }}
 Completed:	{{ .UpdateStatusCompleted }}
{{- end }}
 Message:	{{ .UpdateStatusMessage }}
{{- end }}
Placement:
{{- if .TaskPlacementConstraints }}
 Constraints:	{{ .TaskPlacementConstraints }}
{{- end }}
{{- if .TaskPlacementPreferences }}
 Preferences:   {{ .TaskPlacementPreferences }}
{{- end }}
{{- if .MaxReplicas }}
 Max Replicas Per Node:   {{ .MaxReplicas }}
{{- end }}
{{- if .HasUpdateConfig }}
UpdateConfig:
 Parallelism:	{{ .UpdateParallelism }}
{{- if .HasUpdateDelay}}
 Delay:		{{ .UpdateDelay }}
{{- end }}
 On failure:	{{ .UpdateOnFailure }}
{{- if .HasUpdateMonitor}}
 Monitoring Period: {{ .UpdateMonitor }}
{{- end }}
 Max failure ratio: {{ .UpdateMaxFailureRatio }}
 Update order:      {{ .UpdateOrder }}
{{- end }}
{{- if .HasRollbackConfig }}
RollbackConfig:
 Parallelism:	{{ .RollbackParallelism }}
{{- if .HasRollbackDelay}}
 Delay:		{{ .RollbackDelay }}
{{- end }}
 On failure:	{{ .RollbackOnFailure }}
{{- if .HasRollbackMonitor}}
 Monitoring Period: {{ .RollbackMonitor }}
{{- end }}
 Max failure ratio: {{ .RollbackMaxFailureRatio }}
 Rollback order:    {{ .RollbackOrder }}
{{- end }}
ContainerSpec:
 Image:		{{ .ContainerImage }}
{{- if .ContainerArgs }}
 Args:		{{ range $arg := .ContainerArgs }}{{ $arg }} {{ end }}
{{- end -}}
{{- if .ContainerEnv }}
 Env:		{{ range $env := .ContainerEnv }}{{ $env }} {{ end }}
{{- end -}}
{{- if .ContainerWorkDir }}
 Dir:		{{ .ContainerWorkDir }}
{{- end -}}
{{- if .HasContainerInit }}
 Init:		{{ .ContainerInit }}
{{- end -}}
{{- if .ContainerUser }}
 User: {{ .ContainerUser }}
{{- end }}
{{- if .HasCapabilities }}
Capabilities:
{{- if .HasCapabilityAdd }}
 Add: {{ .CapabilityAdd }}
{{- end }}
{{- if .HasCapabilityDrop }}
 Drop: {{ .CapabilityDrop }}
{{- end }}
{{- end }}
{{- if .ContainerSysCtls }}
SysCtls:
{{- range $k, $v := .ContainerSysCtls }}
 {{ $k }}{{if $v }}: {{ $v }}{{ end }}
{{- end }}{{ end }}
{{- if .ContainerUlimits }}
Ulimits:
{{- range $k, $v := .ContainerUlimits }}
 {{ $k }}: {{ $v }}
{{- end }}{{ end }}
{{- if .ContainerMounts }}
Mounts:
{{- end }}
{{- range $mount := .ContainerMounts }}
 Target:	{{ $mount.Target }}
  Source:	{{ $mount.Source }}
  ReadOnly:	{{ $mount.ReadOnly }}
  Type:		{{ $mount.Type }}
{{- end -}}
{{- if .Configs}}
Configs:
{{- range $config := .Configs }}
 Target:	{{$config.File.Name}}
  Source:	{{$config.ConfigName}}
{{- end }}{{ end }}
{{- if .Secrets }}
Secrets:
{{- range $secret := .Secrets }}
 Target:	{{$secret.File.Name}}
  Source:	{{$secret.SecretName}}
{{- end }}{{ end }}
{{- if .HasLogDriver }}
Log Driver:
{{- if .HasLogDriverName }}
 Name:		{{ .LogDriverName }}
{{- end }}
{{- if .LogOpts }}
 LogOpts:
{{- range $k, $v := .LogOpts }}
  {{ $k }}{{if $v }}:       {{ $v }}{{ end }}
{{- end }}{{ end }}
{{ end }}
{{- if .HasResources }}
Resources:
{{- if .HasResourceReservations }}
 Reservations:
{{- if gt .ResourceReservationNanoCPUs 0.0 }}
  CPU:		{{ .ResourceReservationNanoCPUs }}
{{- end }}
{{- if .ResourceReservationMemory }}
  Memory:	{{ .ResourceReservationMemory }}
{{- end }}{{ end }}
{{- if .HasResourceLimits }}
 Limits:
{{- if gt .ResourceLimitsNanoCPUs 0.0 }}
  CPU:		{{ .ResourceLimitsNanoCPUs }}
{{- end }}
{{- if .ResourceLimitMemory }}
  Memory:	{{ .ResourceLimitMemory }}
{{- end }}{{ end }}{{ end }}
{{- if gt .ResourceLimitPids 0 }}
  PIDs:		{{ .ResourceLimitPids }}
{{- end }}
{{- if .Networks }}
Networks:
{{- range $network := .Networks }} {{ $network }}{{ end }} {{ end }}
Endpoint Mode:	{{ .EndpointMode }}
{{- if .Ports }}
Ports:
{{- range $port := .Ports }}
 PublishedPort = {{ $port.PublishedPort }}
  Protocol = {{ $port.Protocol }}
  TargetPort = {{ $port.TargetPort }}
  PublishMode = {{ $port.PublishMode }}
{{- end }} {{ end -}}
{{- if .Healthcheck }}
 Healthcheck:
  Interval = {{ .Healthcheck.Interval }}
  Retries = {{ .Healthcheck.Retries }}
  StartPeriod =	{{ .Healthcheck.StartPeriod }}
  Timeout =	{{ .Healthcheck.Timeout }}
  {{- if .Healthcheck.Test }}
  Tests:
	{{- range $test := .Healthcheck.Test }}
	 Test = {{ $test }}
  {{- end }} {{ end -}}
{{- end }}
`;

/** A time.Duration value: prints as Go prints it ("5s"), compares as nanoseconds. */
function duration(ns: number): GoStruct {
  return new GoStruct('time.Duration', [], { String: () => formatDuration(ns) });
}

/** A *uint64: truthy whenever present, even when 0. */
function uintPointer(n: number): GoStruct {
  return new GoStruct('*uint64', [], { String: () => String(n) });
}

function stringMap(v: unknown): GoMap {
  if (!isObj(v)) return GoMap.fromRecord(null);
  const rec: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) rec[k] = str(x);
  return GoMap.fromRecord(rec);
}

/** go-units BytesSize: "%.4g" with binary units. */
export function bytesSize(size: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];
  let i = 0;
  let s = size;
  while (s >= 1024 && i < units.length - 1) {
    s /= 1024;
    i++;
  }
  return `${String(Number(s.toPrecision(4)))}${units[i]}`;
}

function since(now: number, v: unknown): string {
  const t = typeof v === 'string' ? GoTime.parse(v) : null;
  return humanDuration(now - (t ?? GoTime.zero()).epochMillis()) + ' ago';
}

export function servicePrettyContext(service: Json, now: number): GoStruct {
  const spec = get(service, 'Spec');
  const task = get(spec, 'TaskTemplate');
  const cs = get(task, 'ContainerSpec');
  const mode = get(spec, 'Mode');
  const us = get(service, 'UpdateStatus');
  const placement = get(task, 'Placement');
  const res = get(task, 'Resources');
  const cfg = (which: 'UpdateConfig' | 'RollbackConfig'): Record<string, GoMethod> => {
    const c = get(spec, which);
    const p = which === 'UpdateConfig' ? 'Update' : 'Rollback';
    return {
      [`Has${p}Config`]: () => c != null,
      [`${p}Parallelism`]: () => num(get(c, 'Parallelism')),
      [`Has${p}Delay`]: () => num(get(c, 'Delay')) > 0,
      [`${p}Delay`]: () => duration(num(get(c, 'Delay'))),
      [`${p}OnFailure`]: () => str(get(c, 'FailureAction')),
      [`${p}Order`]: () => str(get(c, 'Order')),
      [`Has${p}Monitor`]: () => num(get(c, 'Monitor')) > 0,
      [`${p}Monitor`]: () => duration(num(get(c, 'Monitor'))),
      [`${p}MaxFailureRatio`]: () => num(get(c, 'MaxFailureRatio')),
    };
  };
  const refs = (key: string): GoValue => {
    const v = get(cs, key);
    return Array.isArray(v) && v.length > 0 ? (fromRawJSON(v) as GoValue[]) : null;
  };
  const list = (v: unknown): GoValue => {
    const a = strs(v);
    return a.length > 0 ? a : null;
  };
  const limits = get(res, 'Limits');
  const reservations = get(res, 'Reservations');
  const methods: Record<string, GoMethod> = {
    ID: () => str(get(service, 'ID')),
    Name: () => str(get(spec, 'Name')),
    Labels: () => stringMap(get(spec, 'Labels')),
    IsModeGlobal: () => get(mode, 'Global') != null,
    IsModeReplicated: () => get(mode, 'Replicated') != null,
    ModeReplicatedReplicas: () => {
      const r = get(mode, 'Replicated', 'Replicas');
      return typeof r === 'number' ? uintPointer(r) : null;
    },
    HasUpdateStatus: () => us != null && str(get(us, 'State')) !== '',
    UpdateStatusState: () => str(get(us, 'State')),
    HasUpdateStatusStarted: () => get(us, 'StartedAt') != null,
    UpdateStatusStarted: () => since(now, get(us, 'StartedAt')),
    UpdateIsCompleted: () => str(get(us, 'State')) === 'completed' && get(us, 'CompletedAt') != null,
    UpdateStatusCompleted: () => since(now, get(us, 'CompletedAt')),
    UpdateStatusMessage: () => str(get(us, 'Message')),
    TaskPlacementConstraints: () => list(get(placement, 'Constraints')),
    TaskPlacementPreferences: () => {
      const prefs = get(placement, 'Preferences');
      const out = (Array.isArray(prefs) ? prefs : [])
        .map((p) => get(p, 'Spread', 'SpreadDescriptor'))
        .filter((d) => d !== undefined)
        .map((d) => `spread=${str(d)}`);
      return out.length > 0 ? out : null;
    },
    MaxReplicas: () => num(get(placement, 'MaxReplicas')),
    ...cfg('UpdateConfig'),
    ...cfg('RollbackConfig'),
    ContainerImage: () => str(get(cs, 'Image')),
    ContainerArgs: () => list(get(cs, 'Args')),
    ContainerEnv: () => list(get(cs, 'Env')),
    ContainerWorkDir: () => str(get(cs, 'Dir')),
    HasContainerInit: () => typeof get(cs, 'Init') === 'boolean',
    ContainerInit: () => get(cs, 'Init') === true,
    ContainerUser: () => str(get(cs, 'User')),
    HasCapabilities: () => strs(get(cs, 'CapabilityAdd')).length + strs(get(cs, 'CapabilityDrop')).length > 0,
    HasCapabilityAdd: () => strs(get(cs, 'CapabilityAdd')).length > 0,
    HasCapabilityDrop: () => strs(get(cs, 'CapabilityDrop')).length > 0,
    CapabilityAdd: () => strs(get(cs, 'CapabilityAdd')).join(', '),
    CapabilityDrop: () => strs(get(cs, 'CapabilityDrop')).join(', '),
    ContainerSysCtls: () => stringMap(get(cs, 'Sysctls')),
    ContainerUlimits: () => {
      const u = get(cs, 'Ulimits');
      const rec: Record<string, string> = {};
      for (const x of Array.isArray(u) ? u : []) rec[str(get(x, 'Name'))] = `${num(get(x, 'Soft'))}:${num(get(x, 'Hard'))}`;
      return GoMap.fromRecord(rec);
    },
    ContainerMounts: () => refs('Mounts'),
    Configs: () => refs('Configs'),
    Secrets: () => refs('Secrets'),
    Healthcheck: () => null,
    HasLogDriver: () => get(task, 'LogDriver') != null,
    HasLogDriverName: () => str(get(task, 'LogDriver', 'Name')) !== '',
    LogDriverName: () => str(get(task, 'LogDriver', 'Name')),
    LogOpts: () => stringMap(get(task, 'LogDriver', 'Options')),
    HasResources: () => res != null,
    HasResourceReservations: () => reservations != null && (num(get(reservations, 'NanoCPUs')) > 0 || num(get(reservations, 'MemoryBytes')) > 0),
    ResourceReservationNanoCPUs: () => num(get(reservations, 'NanoCPUs')) / 1e9,
    ResourceReservationMemory: () => (num(get(reservations, 'MemoryBytes')) === 0 ? '' : bytesSize(num(get(reservations, 'MemoryBytes')))),
    HasResourceLimits: () =>
      limits != null && (num(get(limits, 'NanoCPUs')) > 0 || num(get(limits, 'MemoryBytes')) > 0 || num(get(limits, 'Pids')) > 0),
    ResourceLimitsNanoCPUs: () => num(get(limits, 'NanoCPUs')) / 1e9,
    ResourceLimitMemory: () => (num(get(limits, 'MemoryBytes')) === 0 ? '' : bytesSize(num(get(limits, 'MemoryBytes')))),
    ResourceLimitPids: () => num(get(limits, 'Pids')),
    Networks: () => {
      const n = get(task, 'Networks');
      const out = (Array.isArray(n) ? n : []).map((x) => str(get(x, 'Target')));
      return out.length > 0 ? out : null;
    },
    EndpointMode: () => str(get(spec, 'EndpointSpec', 'Mode')),
    Ports: () => {
      const p = get(service, 'Endpoint', 'Ports');
      return Array.isArray(p) && p.length > 0 ? (fromRawJSON(p) as GoValue[]) : null;
    },
  };
  return new GoStruct('*service.serviceInspectContext', [], methods);
}
