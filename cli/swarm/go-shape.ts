// JSON re-encoded the way docker's CLI re-encodes what it decoded into moby's Go types (swarm.Service, swarm.Node):
// Go's field order, omitempty fields dropped when empty, absent value-structs written as their zero value, times
// in RFC 3339 with trailing zeros trimmed. docker does this for `service inspect`, `node inspect` and the specs it
// sends back in `service update`/`scale` and `node update`. Keys we do not know are kept, after the known ones,
// so that nothing the manager returns is lost.
import { GoTime } from '../format/go-time.js';
import { isObj, type Json } from './json.js';

type Kind = 'str' | 'num' | 'bool' | 'map' | 'time' | 'any' | Struct | { array: Kind };

interface Field {
  name: string;
  omit: boolean;
  kind: Kind;
}

interface Struct {
  ptr: boolean;
  fields: Field[];
}

/** A struct from "Name?:kind" entries: "?" marks omitempty; nested structs and arrays are passed as kinds. */
function struct(ptr: boolean, ...entries: Array<[string, Kind]>): Struct {
  return {
    ptr,
    fields: entries.map(([spec, kind]) => ({ name: spec.replace(/\?$/, ''), omit: spec.endsWith('?'), kind })),
  };
}
const S = (...e: Array<[string, Kind]>): Struct => struct(false, ...e);
const P = (...e: Array<[string, Kind]>): Struct => struct(true, ...e);
const A = (kind: Kind): { array: Kind } => ({ array: kind });

const META: Array<[string, Kind]> = [
  ['ID', 'str'],
  ['Version?', S(['Index?', 'num'])],
  ['CreatedAt?', 'time'],
  ['UpdatedAt?', 'time'],
];
const ANNOTATIONS: Array<[string, Kind]> = [
  ['Name?', 'str'],
  ['Labels', 'map'],
];
const FILE = P(['Name', 'str'], ['UID', 'str'], ['GID', 'str'], ['Mode', 'num']);
const PORT = S(['Name?', 'str'], ['Protocol?', 'str'], ['TargetPort?', 'num'], ['PublishedPort?', 'num'], ['PublishMode?', 'str']);
const DRIVER = P(['Name?', 'str'], ['Options?', 'map']);
const CONTAINER = P(
  ['Image?', 'str'],
  ['Labels?', 'map'],
  ['Command?', A('str')],
  ['Args?', A('str')],
  ['Hostname?', 'str'],
  ['Env?', A('str')],
  ['Dir?', 'str'],
  ['User?', 'str'],
  ['Groups?', A('str')],
  ['Privileges?', 'any'],
  ['Init?', 'any'],
  ['StopSignal?', 'str'],
  ['TTY?', 'bool'],
  ['OpenStdin?', 'bool'],
  ['ReadOnly?', 'bool'],
  ['Mounts?', 'any'],
  ['StopGracePeriod?', 'any'],
  ['Healthcheck?', 'any'],
  ['Hosts?', A('str')],
  ['DNSConfig?', P(['Nameservers?', A('str')], ['Search?', A('str')], ['Options?', A('str')])],
  ['Secrets?', A(P(['File', FILE], ['SecretID', 'str'], ['SecretName', 'str']))],
  ['Configs?', A(P(['File?', FILE], ['Runtime?', 'any'], ['ConfigID', 'str'], ['ConfigName', 'str']))],
  ['Isolation?', 'str'],
  ['Sysctls?', 'map'],
  ['CapabilityAdd?', A('str')],
  ['CapabilityDrop?', A('str')],
  ['Ulimits?', 'any'],
  ['OomScoreAdj?', 'num'],
);
const TASK_SPEC = S(
  ['ContainerSpec?', CONTAINER],
  ['PluginSpec?', 'any'],
  ['NetworkAttachmentSpec?', 'any'],
  ['Resources?', P(['Limits?', P(['NanoCPUs?', 'num'], ['MemoryBytes?', 'num'], ['Pids?', 'num'])], ['Reservations?', P(['NanoCPUs?', 'num'], ['MemoryBytes?', 'num'], ['GenericResources?', 'any'])])],
  ['RestartPolicy?', P(['Condition?', 'str'], ['Delay?', 'any'], ['MaxAttempts?', 'any'], ['Window?', 'any'])],
  ['Placement?', P(['Constraints?', A('str')], ['Preferences?', 'any'], ['MaxReplicas?', 'num'], ['Platforms?', 'any'])],
  ['Networks?', 'any'],
  ['LogDriver?', DRIVER],
  ['ForceUpdate', 'num'],
  ['Runtime?', 'str'],
);
const UPDATE_CONFIG = P(['Parallelism', 'num'], ['Delay?', 'num'], ['FailureAction?', 'str'], ['Monitor?', 'num'], ['MaxFailureRatio', 'num'], ['Order', 'str']);
const ENDPOINT_SPEC: Array<[string, Kind]> = [
  ['Mode?', 'str'],
  ['Ports?', A(PORT)],
];
export const SERVICE_SPEC = S(
  ...ANNOTATIONS,
  ['TaskTemplate?', TASK_SPEC],
  ['Mode?', S(['Replicated?', P(['Replicas?', 'any'])], ['Global?', P()], ['ReplicatedJob?', P(['MaxConcurrent?', 'any'], ['TotalCompletions?', 'any'])], ['GlobalJob?', P()])],
  ['UpdateConfig?', UPDATE_CONFIG],
  ['RollbackConfig?', UPDATE_CONFIG],
  ['Networks?', 'any'],
  ['EndpointSpec?', P(...ENDPOINT_SPEC)],
);
export const SERVICE = S(
  ...META,
  ['Spec?', SERVICE_SPEC],
  ['PreviousSpec?', { ...SERVICE_SPEC, ptr: true }],
  ['Endpoint?', S(['Spec?', S(...ENDPOINT_SPEC)], ['Ports?', A(PORT)], ['VirtualIPs?', 'any'])],
  ['UpdateStatus?', P(['State?', 'str'], ['StartedAt?', 'any'], ['CompletedAt?', 'any'], ['Message?', 'str'])],
  ['ServiceStatus?', P(['RunningTasks', 'num'], ['DesiredTasks', 'num'], ['CompletedTasks', 'num'])],
  ['JobStatus?', 'any'],
);
export const NODE_SPEC = S(...ANNOTATIONS, ['Role?', 'str'], ['Membership?', 'str'], ['Availability?', 'str']);
export const NODE = S(
  ...META,
  ['Spec?', NODE_SPEC],
  [
    'Description?',
    S(
      ['Hostname?', 'str'],
      ['Platform?', S(['Architecture?', 'str'], ['OS?', 'str'])],
      ['Resources?', S(['NanoCPUs?', 'num'], ['MemoryBytes?', 'num'], ['GenericResources?', 'any'])],
      ['Engine?', S(['EngineVersion?', 'str'], ['Labels?', 'map'], ['Plugins?', A(S(['Type?', 'str'], ['Name?', 'str']))])],
      ['TLSInfo?', S(['TrustRoot?', 'str'], ['CertIssuerSubject?', 'str'], ['CertIssuerPublicKey?', 'str'])],
      ['CSIInfo?', 'any'],
    ),
  ],
  ['Status?', S(['State?', 'str'], ['Message?', 'str'], ['Addr?', 'str'])],
  ['ManagerStatus?', P(['Leader?', 'bool'], ['Reachability?', 'str'], ['Addr?', 'str'])],
);

function isStruct(k: Kind): k is Struct {
  return typeof k === 'object' && 'fields' in k;
}

function zero(k: Kind): unknown {
  if (k === 'str') return '';
  if (k === 'num') return 0;
  if (k === 'bool') return false;
  if (k === 'time') return '0001-01-01T00:00:00Z';
  if (isStruct(k) && !k.ptr) return shape({}, k);
  return null;
}

/** omitempty: 'any' stands for pointers and slices, which are empty only when nil or of length 0. */
function empty(v: unknown, k: Kind): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (k === 'any') return false;
  return v === '' || v === 0 || v === false;
}

function value(v: unknown, k: Kind): unknown {
  if (v === undefined) return zero(k);
  if (k === 'time') return typeof v === 'string' ? (GoTime.parse(v)?.toRFC3339Nano() ?? v) : v;
  if (isStruct(k)) return v === null ? zero(k) : isObj(v) ? shape(v, k) : v;
  if (typeof k === 'object' && Array.isArray(v)) return v.map((x) => value(x, k.array));
  return v;
}

/** Re-encodes one decoded object with a Go struct's layout. */
export function shape(obj: Json, s: Struct): Json {
  const out: Json = {};
  const known = new Set<string>();
  for (const f of s.fields) {
    known.add(f.name);
    const v = value(obj[f.name], f.kind);
    // omitempty never drops a value struct; a map is dropped only when it has no keys.
    if (f.omit) {
      if (isStruct(f.kind) && !f.kind.ptr) {
        out[f.name] = v;
        continue;
      }
      if (empty(v, f.kind) || (f.kind === 'map' && isObj(v) && Object.keys(v).length === 0)) continue;
    }
    out[f.name] = v;
  }
  for (const [k, v] of Object.entries(obj)) if (!known.has(k)) out[k] = v;
  return out;
}

/** json.Marshal's text: like JSON.stringify, with <, >, & and U+2028/2029 escaped (they occur only in strings). */
export function goJSON(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
