// `node inspect --pretty` (cli/command/node/formatter.go): docker's template, byte for byte, over a context
// whose methods read the node JSON.
import { fromRawJSON, GoMap, GoStruct, type GoMethod } from '../format/go-values.js';
import { GoTime } from '../format/go-time.js';
import { prettyPrint } from '../objects/contexts.js';
import { get, isObj, num, str, type Json } from './json.js';
import { bytesSize } from './service-pretty.js';

export const NODE_PRETTY_TEMPLATE = `ID:			{{.ID}}
{{- if .Name }}
Name:			{{.Name}}
{{- end }}
{{- if .Labels }}
Labels:
{{- range $k, $v := .Labels }}
 - {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{ end }}
Hostname:              	{{.Hostname}}
Joined at:             	{{.CreatedAt}}
Status:
 State:			{{.StatusState}}
 {{- if .HasStatusMessage}}
 Message:              	{{.StatusMessage}}
 {{- end}}
 Availability:         	{{.SpecAvailability}}
 {{- if .Status.Addr}}
 Address:		{{.StatusAddr}}
 {{- end}}
{{- if .HasManagerStatus}}
Manager Status:
 Address:		{{.ManagerStatusAddr}}
 Raft Status:		{{.ManagerStatusReachability}}
 {{- if .IsManagerStatusLeader}}
 Leader:		Yes
 {{- else}}
 Leader:		No
 {{- end}}
{{- end}}
Platform:
 Operating System:	{{.PlatformOS}}
 Architecture:		{{.PlatformArchitecture}}
Resources:
 CPUs:			{{.ResourceNanoCPUs}}
 Memory:		{{.ResourceMemory}}
{{- if .HasEnginePlugins}}
Plugins:
{{- range $k, $v := .EnginePlugins }}
 {{ $k }}:{{if $v }}		{{ $v }}{{ end }}
{{- end }}
{{- end }}
Engine Version:		{{.EngineVersion}}
{{- if .EngineLabels}}
Engine Labels:
{{- range $k, $v := .EngineLabels }}
 - {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{- end }}
{{- if .HasTLSInfo}}
TLS Info:
 TrustRoot:
{{.TLSInfoTrustRoot}}
 Issuer Subject:	{{.TLSInfoCertIssuerSubject}}
 Issuer Public Key:	{{.TLSInfoCertIssuerPublicKey}}
{{- end}}`;

function stringMap(v: unknown): GoMap {
  if (!isObj(v)) return GoMap.fromRecord(null);
  const rec: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) rec[k] = str(x);
  return GoMap.fromRecord(rec);
}

export function nodePrettyContext(node: Json): GoStruct {
  const desc = get(node, 'Description');
  const tls = get(desc, 'TLSInfo');
  const ms = get(node, 'ManagerStatus');
  const created = get(node, 'CreatedAt');
  const methods: Record<string, GoMethod> = {
    ID: () => str(get(node, 'ID')),
    Name: () => str(get(node, 'Spec', 'Name')),
    Labels: () => stringMap(get(node, 'Spec', 'Labels')),
    Hostname: () => str(get(desc, 'Hostname')),
    CreatedAt: () => prettyPrint(((typeof created === 'string' ? GoTime.parse(created) : null) ?? GoTime.zero()).toGoString()),
    StatusState: () => prettyPrint(str(get(node, 'Status', 'State'))),
    HasStatusMessage: () => str(get(node, 'Status', 'Message')) !== '',
    StatusMessage: () => prettyPrint(str(get(node, 'Status', 'Message'))),
    SpecAvailability: () => prettyPrint(str(get(node, 'Spec', 'Availability'))),
    HasStatusAddr: () => str(get(node, 'Status', 'Addr')) !== '',
    StatusAddr: () => str(get(node, 'Status', 'Addr')),
    HasManagerStatus: () => ms != null,
    ManagerStatusAddr: () => str(get(ms, 'Addr')),
    ManagerStatusReachability: () => prettyPrint(str(get(ms, 'Reachability'))),
    IsManagerStatusLeader: () => get(ms, 'Leader') === true,
    PlatformOS: () => str(get(desc, 'Platform', 'OS')),
    PlatformArchitecture: () => str(get(desc, 'Platform', 'Architecture')),
    ResourceNanoCPUs: () => Math.trunc(num(get(desc, 'Resources', 'NanoCPUs')) / 1e9),
    ResourceMemory: () => (num(get(desc, 'Resources', 'MemoryBytes')) === 0 ? '' : bytesSize(num(get(desc, 'Resources', 'MemoryBytes')))),
    HasEnginePlugins: () => Array.isArray(get(desc, 'Engine', 'Plugins')) && (get(desc, 'Engine', 'Plugins') as unknown[]).length > 0,
    EnginePlugins: () => {
      const byType = new Map<string, string[]>();
      const plugins = get(desc, 'Engine', 'Plugins');
      for (const p of Array.isArray(plugins) ? plugins : []) {
        const t = str(get(p, 'Type'));
        byType.set(t, [...(byType.get(t) ?? []), str(get(p, 'Name'))]);
      }
      return GoMap.fromRecord(Object.fromEntries([...byType].map(([k, v]) => [k, v.join(', ')])));
    },
    EngineVersion: () => str(get(desc, 'Engine', 'EngineVersion')),
    EngineLabels: () => stringMap(get(desc, 'Engine', 'Labels')),
    HasTLSInfo: () => str(get(tls, 'TrustRoot')) !== '' || str(get(tls, 'CertIssuerSubject')) !== '' || str(get(tls, 'CertIssuerPublicKey')) !== '',
    TLSInfoTrustRoot: () => str(get(tls, 'TrustRoot')),
    // []byte fields: the JSON already holds them in base64, which is what docker prints.
    TLSInfoCertIssuerSubject: () => str(get(tls, 'CertIssuerSubject')),
    TLSInfoCertIssuerPublicKey: () => str(get(tls, 'CertIssuerPublicKey')),
  };
  // The embedded swarm.Node's fields that the template reads directly ({{.Status.Addr}}).
  return new GoStruct('*node.nodeInspectContext', [{ name: 'Status', value: fromRawJSON(get(node, 'Status') ?? {}) }], methods);
}
