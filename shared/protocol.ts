// The agent<->manager session protocol: every WebSocket message is one BINARY frame
//   u32 BE header length | header (JSON, metadata only) | blob 0 | blob 1 | ...
// The header lists the blob lengths; secret and config bytes travel only as blobs, never inside the JSON, so the
// agent can copy them straight into Buffers it owns without ever making a string of them.

export const PROTOCOL_VERSION = 1;
/**
 * Each direction has its own frame limit, sized to what that side legitimately sends; the WebSocket layer refuses a
 * larger frame from its header, before buffering it (ws maxPayload, close 1009).
 * Agent -> manager: heartbeats and status messages. A status holds a task ID, a state and two texts of at most
 * MAX_STATUS_TEXT characters (at most 6 bytes each in JSON, as \uXXXX escapes): under 50 KiB.
 */
export const MAX_AGENT_FRAME_BYTES = 64 * 1024;
/** Manager -> agent: assignments carrying their objects' bytes (many tasks times 500 KiB secrets still fit). */
export const MAX_MANAGER_FRAME_BYTES = 256 * 1024 * 1024;

/** A file a task gets: which object, where, owner and mode. */
export interface FileRef {
  kind: 'secret' | 'config';
  id: string;
  target: string; // as in the reference: relative (under the task folder) or absolute
  uid: number;
  gid: number;
  mode: number;
}

/** A task as its node needs it: what to run and which files it gets. No secret data. */
export interface TaskAssignment {
  id: string;
  version: number;
  serviceId: string;
  serviceName: string;
  slot: number;
  desiredState: string;
  command?: string[];
  args?: string[];
  env?: string[];
  dir?: string;
  user?: string;
  stopGracePeriodMs?: number;
  /** ContainerSpec.Image as stored: pinned by digest (name:tag@sha256:…) when the CLI resolved it. */
  image?: string;
  /** ContainerSpec.Hostname as stored; the agent expands its templates (agent/template/container-spec.ts). */
  hostname?: string;
  /** ContainerSpec.Labels, then the task's own labels over them (Docker's order); Swarm's com.docker.swarm.*
   * labels are added by the agent, which knows its node ID. */
  labels?: Record<string, string>;
  files: FileRef[];
  /** The service's `com.runsecrets.secret-update=signal:SIGNAME` label: after a change of the task's files in
   * place, this signal goes to its main process once the new bytes are readable (docs/updates.md). */
  refreshSignal?: string;
  // --- registry credentials (issue 10, `--with-registry-auth`) ---
  /** The service's registry credentials, for pulling its image; only in the assignments of the nodes that run its
   * tasks. Never logged on either side. */
  registryAuth?: TaskRegistryAuth;
  // --- templated secrets and configs (issue 12 item 2; agent/template/payload.ts) ---
  /** The service's labels when the task was made (swarmkit's Task.ServiceAnnotations): `.Service.Labels`. */
  serviceLabels?: Record<string, string>;
}

/** Registry credentials as a node uses them for a pull (moby's AuthConfig fields a pull needs). */
export interface TaskRegistryAuth {
  username?: string;
  password?: string;
  identitytoken?: string;
}
/** Each credential field's limit: the header they come from is under 16 KiB (Node's header limit). */
export const MAX_REGISTRY_AUTH_FIELD = 16 * 1024;

/** Object data announced in a frame; its bytes are blob `blob` of the same frame. */
export interface ObjectData {
  kind: 'secret' | 'config';
  id: string;
  version: number;
  blob: number;
  /** The object's Templating driver name (`--template-driver`): its bytes are a template, rendered per task. */
  templating?: string;
}
/** A driver name's limit (Docker stores any; only "golang" renders). */
export const MAX_DRIVER_NAME = 256;

/**
 * The byte tunnel over the session (shared/tunnel.ts): the manager opens streams to the node's Engine API (docker
 * ps/exec/logs through the manager); both sides send data (blob 0 of its frame, at most TUNNEL_CHUNK_BYTES), the
 * end of their direction, acknowledgements of the bytes they delivered (flow control), and resets.
 */
export type StreamMessage =
  | { type: 'stream-data'; stream: number; data: Uint8Array }
  | { type: 'stream-end'; stream: number }
  | { type: 'stream-ack'; stream: number; bytes: number }
  | { type: 'stream-reset'; stream: number; reason?: string };
/** A data frame's payload: well within the agent direction's frame limit with its header. */
export const TUNNEL_CHUNK_BYTES = 32 * 1024;
const MAX_STREAM_ID = 0x7fffffff;
const MAX_RESET_TEXT = 256;

/** A manager of the cluster as agents learn it from the welcome: its agents' address (HOST:PORT, [IPv6]:PORT) and,
 * when known, its node ID (the CN its certificate must carry). */
export interface ManagerEntry {
  addr: string;
  nodeId?: string;
}
/** At most this many managers in a welcome (Docker advises at most 7; room to spare). */
export const MAX_WELCOME_MANAGERS = 64;
const ADDR_RE = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9._-]{1,253}):\d{1,5}$/;
/** An address a welcome may carry (a manager leaves out any other: one bad entry would cost the agent its welcome). */
export function isWelcomeManagerAddr(s: string): boolean {
  return ADDR_RE.test(s);
}

export type ManagerMessage =
  /** managers: every manager agents may use (issue 11); certs: the manager takes the node certificate messages (an
   * older one would drop the session on them). Both absent from managers before they existed. */
  | { type: 'welcome'; nodeId: string; heartbeatMs: number; managers?: ManagerEntry[]; certs?: boolean }
  | { type: 'stream-open'; stream: number }
  | StreamMessage
  /** full: the complete desired state (after connecting); the agent drops everything not listed. */
  | { type: 'assign'; full: boolean; tasks: TaskAssignment[]; removeTasks: string[]; objects: ObjectData[]; removeObjects: { kind: 'secret' | 'config'; id: string }[] }
  | { type: 'heartbeat-ack' }
  /** The swarm's heartbeat period changed: agents heartbeat at the new one on the same session. */
  | { type: 'heartbeat-period'; heartbeatMs: number }
  | CertManagerMessage;

/**
 * Node certificates (agent/session/cert-renewal.ts, manager/pki/node-certs.ts): the agent sends a CSR for a key it
 * made (the key never leaves it); the manager answers the certificate for the node the session is authenticated as,
 * with the roots to trust (PEM bundle), or a refusal. `cert-renew`: renew now (root rotation); `trust`: the roots to
 * trust from now on (rotation done). The agent reports what it holds (`tls-state`) after connecting and each change.
 */
export type CertManagerMessage =
  | { type: 'node-cert'; cert: string; trust: string }
  | { type: 'node-cert-refused'; reason: string }
  | { type: 'cert-renew' }
  | { type: 'trust'; trust: string };
export type CertAgentMessage =
  | { type: 'cert-request'; csr: string }
  /** cert: the certificate in use (PEM; the manager checks it is one it issued to this node); trust: SHA-256
   * fingerprints (hex) of the trusted roots, in order. */
  | { type: 'tls-state'; cert: string; trust: string[] };
/** A PEM certificate, CSR or bundle of a few: far below the agent direction's frame limit. */
export const MAX_CERT_PEM = 16 * 1024;

export type AgentMessage =
  | { type: 'heartbeat' }
  | { type: 'status'; taskId: string; state: string; message?: string; err?: string; exitCode?: number }
  | StreamMessage
  | CertAgentMessage;

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** An agent's message as a frame (within the agent direction's limit); stream data goes as the frame's blob. */
export function encodeAgentFrame(msg: AgentMessage): Buffer {
  if (msg.type === 'stream-data') return encodeFrame({ type: 'stream-data', stream: msg.stream } as unknown as AgentMessage, [msg.data], MAX_AGENT_FRAME_BYTES);
  return encodeFrame(msg, [], MAX_AGENT_FRAME_BYTES);
}

/** A manager's stream message as a frame (data as the blob). */
export function encodeStreamFrame(msg: StreamMessage | { type: 'stream-open'; stream: number }): Buffer {
  if (msg.type === 'stream-data') return encodeFrame({ type: 'stream-data', stream: msg.stream } as unknown as ManagerMessage, [msg.data]);
  return encodeFrame(msg);
}

/** A stream message of either direction, or null when the type is not one; `data` is a view into the frame. */
function parseStreamMessage(o: Obj, type: string, blobs: Uint8Array[]): StreamMessage | null {
  const w = type;
  if (!type.startsWith('stream-') || type === 'stream-open') return null;
  const stream = uint(o, 'stream', w, MAX_STREAM_ID);
  if (type === 'stream-data') {
    if (blobs.length !== 1 || blobs[0]!.length > TUNNEL_CHUNK_BYTES) throw bad(w, `needs one blob of at most ${TUNNEL_CHUNK_BYTES} bytes`);
    return { type, stream, data: blobs[0]! };
  }
  if (blobs.length > 0) throw bad(w, 'carries no blobs');
  if (type === 'stream-end') return { type, stream };
  if (type === 'stream-ack') return { type, stream, bytes: uint(o, 'bytes', w, 1 << 30) };
  if (type === 'stream-reset') {
    const reason = optStr(o, 'reason', w, MAX_RESET_TEXT);
    return reason === undefined ? { type, stream } : { type, stream, reason };
  }
  return null;
}

/** Encodes a header and blobs into one frame; blob lengths are added to the header as `blobs`. */
export function encodeFrame(header: ManagerMessage | AgentMessage, blobs: readonly Uint8Array[] = [], limit = MAX_MANAGER_FRAME_BYTES): Buffer {
  const json = Buffer.from(JSON.stringify({ ...header, blobs: blobs.map((b) => b.length) }), 'utf8');
  let total = 4 + json.length;
  for (const b of blobs) total += b.length;
  if (total > limit) throw new ProtocolError(`frame of ${total} bytes exceeds the limit of ${limit}`);
  // alloc (not allocUnsafe): the frame may hold secret bytes, and must not come from Node's shared pool.
  const out = Buffer.alloc(total);
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  let off = 4 + json.length;
  for (const b of blobs) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

export interface DecodedFrame<M> {
  msg: M;
  /** Views into the frame (no copies): the receiver copies what it keeps, then wipes the frame. */
  blobs: Uint8Array[];
}

/** Decodes the framing only (header JSON and blob views): parseAgentMessage / parseManagerMessage give typed
 * messages; this is for them and for tests that need raw headers. */
export function decodeFrame<M extends { type: string }>(frame: Uint8Array): DecodedFrame<M> {
  if (frame.length < 4) throw new ProtocolError('frame too short: no header length');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const hlen = view.getUint32(0);
  if (4 + hlen > frame.length) throw new ProtocolError(`frame header of ${hlen} bytes overruns the frame of ${frame.length}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(frame.buffer, frame.byteOffset + 4, hlen).toString('utf8'));
  } catch {
    throw new ProtocolError('frame header is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { type?: unknown }).type !== 'string') {
    throw new ProtocolError('frame header has no message type');
  }
  const lens = (parsed as { blobs?: unknown }).blobs ?? [];
  if (!Array.isArray(lens) || !lens.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
    throw new ProtocolError('frame header has invalid blob lengths');
  }
  const blobs: Uint8Array[] = [];
  let off = 4 + hlen;
  for (const n of lens as number[]) {
    if (off + n > frame.length) throw new ProtocolError('frame blob overruns the frame');
    blobs.push(frame.subarray(off, off + n));
    off += n;
  }
  if (off !== frame.length) throw new ProtocolError(`frame has ${frame.length - off} trailing bytes`);
  delete (parsed as { blobs?: unknown }).blobs;
  return { msg: parsed as M, blobs };
}

/** The task folder name on the agent's mount: the task ID (unique, stable, and what `task exec` takes). */
export function taskFolderName(taskId: string): string {
  return taskId;
}

/** Object and task IDs as the manager makes them (shared/ids.ts), with room to spare; never '.', '..' or a path. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** Status texts longer than this are refused: they end up in the store and in `docker service ps`. */
export const MAX_STATUS_TEXT = 4096;
/** A status text as an agent may send it: cut to MAX_STATUS_TEXT characters (the manager refuses longer ones). */
export function clipStatusText(s: string): string {
  return s.length <= MAX_STATUS_TEXT ? s : `${s.slice(0, MAX_STATUS_TEXT - 1)}…`;
}
const MAX_LIST = 100_000;
/** Bounds of a task's container fields: an image reference (Docker caps names at 255; tag and digest add some), a
 * hostname as given (DNS names are at most 253), labels as Docker stores them (no limit there; ours is generous). */
export const MAX_IMAGE_REF = 1024;
export const MAX_HOSTNAME = 253;
export const MAX_LABELS = 1000;
export const MAX_LABEL_KEY = 1024;
export const MAX_LABEL_VALUE = 4096;


// Field readers: each returns the typed value or throws a ProtocolError naming the field.
type Obj = Record<string, unknown>;
const bad = (where: string, what: string): ProtocolError => new ProtocolError(`${where}: ${what}`);

function obj(v: unknown, where: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(where, 'not an object');
  return v as Obj;
}
function str(o: Obj, k: string, where: string, max = 4096): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length > max) throw bad(where, `${k} is not a string of at most ${max} characters`);
  return v;
}
function optStr(o: Obj, k: string, where: string, max = 4096): string | undefined {
  return o[k] === undefined ? undefined : str(o, k, where, max);
}
function id(o: Obj, k: string, where: string): string {
  const v = o[k];
  if (typeof v !== 'string' || !ID_RE.test(v)) throw bad(where, `${k} is not a valid ID`);
  return v;
}
function uint(o: Obj, k: string, where: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw bad(where, `${k} is not an integer from 0 to ${max}`);
  return v;
}
function bool(o: Obj, k: string, where: string): boolean {
  const v = o[k];
  if (typeof v !== 'boolean') throw bad(where, `${k} is not a boolean`);
  return v;
}
function kind(o: Obj, where: string): 'secret' | 'config' {
  const v = o.kind;
  if (v !== 'secret' && v !== 'config') throw bad(where, 'kind is not "secret" or "config"');
  return v;
}
function list(o: Obj, k: string, where: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v) || v.length > MAX_LIST) throw bad(where, `${k} is not a list of at most ${MAX_LIST}`);
  return v;
}
function parseManagerEntries(v: unknown): ManagerEntry[] {
  const w = 'welcome';
  if (!Array.isArray(v) || v.length > MAX_WELCOME_MANAGERS) throw bad(w, `managers is not a list of at most ${MAX_WELCOME_MANAGERS}`);
  return v.map((x) => {
    const e = obj(x, w);
    const addr = str(e, 'addr', w, 300);
    if (!ADDR_RE.test(addr)) throw bad(w, `manager address ${JSON.stringify(addr.slice(0, 64))} is not HOST:PORT`);
    return e.nodeId === undefined ? { addr } : { addr, nodeId: id(e, 'nodeId', w) };
  });
}
function optStrings(o: Obj, k: string, where: string): string[] | undefined {
  if (o[k] === undefined) return undefined;
  return list(o, k, where).map((x) => {
    if (typeof x !== 'string') throw bad(where, `${k} is not a list of strings`);
    return x;
  });
}

function optStringMap(o: Obj, k: string, where: string): Record<string, string> | undefined {
  if (o[k] === undefined) return undefined;
  const m = obj(o[k], `${where}: ${k}`);
  const keys = Object.keys(m);
  if (keys.length > MAX_LABELS) throw bad(where, `${k} has more than ${MAX_LABELS} entries`);
  // A fresh object without a prototype's keys: "__proto__" stays a plain label.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const key of keys) {
    const v = m[key];
    if (key === '' || key.length > MAX_LABEL_KEY) throw bad(where, `${k} has a key that is empty or longer than ${MAX_LABEL_KEY} characters`);
    if (typeof v !== 'string' || v.length > MAX_LABEL_VALUE) throw bad(where, `${k}[${JSON.stringify(key.slice(0, 64))}] is not a string of at most ${MAX_LABEL_VALUE} characters`);
    out[key] = v;
  }
  return { ...out };
}

function parseFile(v: unknown, where: string): FileRef {
  const o = obj(v, `${where}: a file reference`);
  const w = `${where}: file reference`;
  const target = str(o, 'target', w);
  if (target === '' || target.includes('\0')) throw bad(w, 'target is empty or holds a NUL byte');
  return { kind: kind(o, w), id: id(o, 'id', w), target, uid: uint(o, 'uid', w, 0xfffffffe), gid: uint(o, 'gid', w, 0xfffffffe), mode: uint(o, 'mode', w, 0o7777) };
}

function parseTask(v: unknown): TaskAssignment {
  const o = obj(v, 'a task');
  const tid = id(o, 'id', 'a task');
  const w = `task ${tid}`;
  const t: TaskAssignment = {
    id: tid,
    version: uint(o, 'version', w),
    serviceId: str(o, 'serviceId', w, 256),
    serviceName: str(o, 'serviceName', w, 256),
    slot: uint(o, 'slot', w),
    desiredState: str(o, 'desiredState', w, 64),
    files: list(o, 'files', w).map((f) => parseFile(f, w)),
  };
  const command = optStrings(o, 'command', w);
  const args = optStrings(o, 'args', w);
  const env = optStrings(o, 'env', w);
  const dir = optStr(o, 'dir', w);
  const user = optStr(o, 'user', w, 256);
  if (command) t.command = command;
  if (args) t.args = args;
  if (env) t.env = env;
  if (dir !== undefined) t.dir = dir;
  if (user !== undefined) t.user = user;
  if (o.stopGracePeriodMs !== undefined) t.stopGracePeriodMs = uint(o, 'stopGracePeriodMs', w);
  const image = optStr(o, 'image', w, MAX_IMAGE_REF);
  const hostname = optStr(o, 'hostname', w, MAX_HOSTNAME);
  const labels = optStringMap(o, 'labels', w);
  if (image !== undefined) {
    if (image === '' || /[\s\0]/.test(image)) throw bad(w, 'image is empty or holds a space or NUL byte');
    t.image = image;
  }
  if (hostname !== undefined) {
    if (hostname.includes('\0')) throw bad(w, 'hostname holds a NUL byte');
    t.hostname = hostname;
  }
  if (labels) t.labels = labels;
  const serviceLabels = optStringMap(o, 'serviceLabels', w);
  if (serviceLabels) t.serviceLabels = serviceLabels;
  const refreshSignal = optStr(o, 'refreshSignal', w, 16);
  if (refreshSignal !== undefined) {
    if (!/^SIG[A-Z0-9]+$/.test(refreshSignal)) throw bad(w, 'refreshSignal is not a signal name');
    t.refreshSignal = refreshSignal;
  }
  const registryAuth = parseRegistryAuth(o, w);
  if (registryAuth) t.registryAuth = registryAuth;
  return t;
}

/** A task's registryAuth: an object of optional strings; errors name the field, never its value. */
function parseRegistryAuth(o: Obj, where: string): TaskRegistryAuth | undefined {
  if (o.registryAuth === undefined) return undefined;
  const w = `${where}: registryAuth`;
  const r = obj(o.registryAuth, w);
  const out: TaskRegistryAuth = {};
  for (const k of ['username', 'password', 'identitytoken'] as const) {
    const v = optStr(r, k, w, MAX_REGISTRY_AUTH_FIELD);
    if (v !== undefined && v !== '') out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function parseAssign(o: Obj, blobCount: number): ManagerMessage {
  const w = 'assign';
  const tasks = list(o, 'tasks', w).map(parseTask);
  const seen = new Set<string>();
  for (const t of tasks) {
    if (seen.has(t.id)) throw bad(w, `task ${t.id} is listed twice`);
    seen.add(t.id);
  }
  const removeTasks = list(o, 'removeTasks', w).map((x) => id({ x }, 'x', `${w}: removeTasks`));
  const used = new Set<number>();
  const objects = list(o, 'objects', w).map((x): ObjectData => {
    const r = obj(x, `${w}: an object`);
    const oid = id(r, 'id', `${w}: an object`);
    const d: ObjectData = { kind: kind(r, `object ${oid}`), id: oid, version: uint(r, 'version', `object ${oid}`), blob: uint(r, 'blob', `object ${oid}`) };
    const templating = optStr(r, 'templating', `object ${oid}`, MAX_DRIVER_NAME);
    if (templating !== undefined) d.templating = templating;
    if (d.blob >= blobCount || used.has(d.blob)) throw bad(`object ${oid}`, `blob ${d.blob} does not exist or is used twice`);
    used.add(d.blob);
    return d;
  });
  // Every blob belongs to exactly one object: bytes nobody names are a malformed frame, not something to keep.
  if (used.size !== blobCount) throw bad(w, `${blobCount - used.size} of ${blobCount} blobs belong to no object`);
  const removeObjects = list(o, 'removeObjects', w).map((x) => {
    const r = obj(x, `${w}: removeObjects`);
    return { kind: kind(r, `${w}: removeObjects`), id: id(r, 'id', `${w}: removeObjects`) };
  });
  return { type: 'assign', full: bool(o, 'full', w), tasks, removeTasks, objects, removeObjects };
}

/**
 * A frame from an agent as a typed message, or a ProtocolError saying what is wrong. Checked: the size (the
 * WebSocket layer refuses larger frames first), the framing, no blobs, every field's type and bounds. Fields not
 * in the message are dropped (a fresh object is built). Whether a state is a task state is the manager's to judge.
 */
export function parseAgentMessage(frame: Uint8Array): AgentMessage {
  if (frame.length > MAX_AGENT_FRAME_BYTES) throw new ProtocolError(`frame of ${frame.length} bytes exceeds the agent limit of ${MAX_AGENT_FRAME_BYTES}`);
  const { msg, blobs } = decodeFrame<{ type: string }>(frame);
  const o = msg as unknown as Obj;
  const sm = parseStreamMessage(o, msg.type, blobs);
  if (sm) return sm;
  if (blobs.length > 0) throw new ProtocolError(`an agent frame carries no blobs; this one has ${blobs.length}`);
  switch (msg.type) {
    case 'heartbeat':
      return { type: 'heartbeat' };
    case 'status': {
      const m: AgentMessage = { type: 'status', taskId: id(o, 'taskId', 'status'), state: str(o, 'state', 'status', 64) };
      const message = optStr(o, 'message', 'status', MAX_STATUS_TEXT);
      const err = optStr(o, 'err', 'status', MAX_STATUS_TEXT);
      if (message !== undefined) m.message = message;
      if (err !== undefined) m.err = err;
      if (o.exitCode !== undefined) {
        if (typeof o.exitCode !== 'number' || !Number.isSafeInteger(o.exitCode)) throw bad('status', 'exitCode is not an integer');
        m.exitCode = o.exitCode;
      }
      return m;
    }
    case 'cert-request':
      return { type: 'cert-request', csr: str(o, 'csr', 'cert-request', MAX_CERT_PEM) };
    case 'tls-state': {
      const trust = list(o, 'trust', 'tls-state').map((x) => {
        if (typeof x !== 'string' || !/^[0-9a-f]{64}$/.test(x)) throw bad('tls-state', 'trust is not a list of SHA-256 fingerprints');
        return x;
      });
      if (trust.length > 16) throw bad('tls-state', 'trust lists more than 16 roots');
      return { type: 'tls-state', cert: str(o, 'cert', 'tls-state', MAX_CERT_PEM), trust };
    }
    default:
      throw new ProtocolError(`unknown message type "${msg.type.slice(0, 64)}" from an agent`);
  }
}

/**
 * A frame from the manager as a typed message and its blobs (views into the frame), or a ProtocolError. An assign
 * is refused whole (nothing half-applied): its IDs become folder names on the mount and owners and modes become
 * file attributes, and each of its blobs must belong to exactly one object.
 */
export function parseManagerMessage(frame: Uint8Array): DecodedFrame<ManagerMessage> {
  if (frame.length > MAX_MANAGER_FRAME_BYTES) throw new ProtocolError(`frame of ${frame.length} bytes exceeds the manager limit of ${MAX_MANAGER_FRAME_BYTES}`);
  const { msg, blobs } = decodeFrame<{ type: string }>(frame);
  const o = msg as unknown as Obj;
  const sm = parseStreamMessage(o, msg.type, blobs);
  if (sm) return { msg: sm, blobs: [] };
  if (msg.type !== 'assign' && blobs.length > 0) throw new ProtocolError(`a ${msg.type.slice(0, 64)} frame carries no blobs; this one has ${blobs.length}`);
  switch (msg.type) {
    case 'welcome': {
      const welcome: Extract<ManagerMessage, { type: 'welcome' }> = { type: 'welcome', nodeId: id(o, 'nodeId', 'welcome'), heartbeatMs: uint(o, 'heartbeatMs', 'welcome') };
      if (o.managers !== undefined) welcome.managers = parseManagerEntries(o.managers);
      if (o.certs !== undefined) welcome.certs = bool(o, 'certs', 'welcome');
      return { msg: welcome, blobs };
    }
    case 'heartbeat-ack':
      return { msg: { type: 'heartbeat-ack' }, blobs };
    case 'heartbeat-period':
      return { msg: { type: 'heartbeat-period', heartbeatMs: uint(o, 'heartbeatMs', 'heartbeat-period') }, blobs };
    case 'stream-open':
      return { msg: { type: 'stream-open', stream: uint(o, 'stream', 'stream-open', MAX_STREAM_ID) }, blobs };
    case 'assign':
      return { msg: parseAssign(o, blobs.length), blobs };
    case 'node-cert':
      return { msg: { type: 'node-cert', cert: str(o, 'cert', 'node-cert', MAX_CERT_PEM), trust: str(o, 'trust', 'node-cert', MAX_CERT_PEM) }, blobs };
    case 'node-cert-refused':
      return { msg: { type: 'node-cert-refused', reason: str(o, 'reason', 'node-cert-refused', MAX_STATUS_TEXT) }, blobs };
    case 'cert-renew':
      return { msg: { type: 'cert-renew' }, blobs };
    case 'trust':
      return { msg: { type: 'trust', trust: str(o, 'trust', 'trust', MAX_CERT_PEM) }, blobs };
    default:
      throw new ProtocolError(`unknown message type "${msg.type.slice(0, 64)}" from the manager`);
  }
}
