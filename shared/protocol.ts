// The agent<->manager session protocol: every WebSocket message is one BINARY frame
//   u32 BE header length | header (JSON, metadata only) | blob 0 | blob 1 | ...
// The header lists the blob lengths; secret and config bytes travel only as blobs, never inside the JSON, so the
// agent can copy them straight into Buffers it owns without ever making a string of them.

export const PROTOCOL_VERSION = 1;
/** A frame larger than this is refused (many tasks times 500 KiB secrets still fit). */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

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
  files: FileRef[];
}

/** Object data announced in a frame; its bytes are blob `blob` of the same frame. */
export interface ObjectData {
  kind: 'secret' | 'config';
  id: string;
  version: number;
  blob: number;
}

export type ManagerMessage =
  | { type: 'welcome'; nodeId: string; heartbeatMs: number }
  /** full: the complete desired state (after connecting); the agent drops everything not listed. */
  | { type: 'assign'; full: boolean; tasks: TaskAssignment[]; removeTasks: string[]; objects: ObjectData[]; removeObjects: { kind: 'secret' | 'config'; id: string }[] }
  | { type: 'heartbeat-ack' };

export type AgentMessage =
  | { type: 'heartbeat' }
  | { type: 'status'; taskId: string; state: string; message?: string; err?: string; exitCode?: number };

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** Encodes a header and blobs into one frame; blob lengths are added to the header as `blobs`. */
export function encodeFrame(header: ManagerMessage | AgentMessage, blobs: readonly Uint8Array[] = []): Buffer {
  const json = Buffer.from(JSON.stringify({ ...header, blobs: blobs.map((b) => b.length) }), 'utf8');
  let total = 4 + json.length;
  for (const b of blobs) total += b.length;
  if (total > MAX_FRAME_BYTES) throw new ProtocolError(`frame of ${total} bytes exceeds the limit of ${MAX_FRAME_BYTES}`);
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

/** Decodes a frame; the header's shape is checked by the receiver, the framing here. */
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
const MAX_LIST = 100_000;

const isId = (v: unknown): v is string => typeof v === 'string' && ID_RE.test(v);
const isUint = (v: unknown, max = Number.MAX_SAFE_INTEGER): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
const isStrings = (v: unknown): boolean => Array.isArray(v) && v.length <= MAX_LIST && v.every((x) => typeof x === 'string');
const isKind = (v: unknown): boolean => v === 'secret' || v === 'config';
const fields = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

function fileProblem(f: unknown): string | null {
  if (typeof f !== 'object' || f === null) return 'a file reference is not an object';
  const r = f as Record<string, unknown>;
  if (!isKind(r.kind) || !isId(r.id)) return 'a file reference has an invalid kind or ID';
  if (typeof r.target !== 'string' || r.target === '' || r.target.length > 4096 || r.target.includes('\0')) return 'a file reference has an invalid target';
  if (!isUint(r.uid, 0xfffffffe) || !isUint(r.gid, 0xfffffffe) || !isUint(r.mode, 0o7777)) return 'a file reference has an invalid owner or mode';
  return null;
}

function taskProblem(t: unknown): string | null {
  if (typeof t !== 'object' || t === null) return 'a task is not an object';
  const a = t as Record<string, unknown>;
  if (!isId(a.id)) return 'a task has an invalid ID';
  if (!isUint(a.version) || !isUint(a.slot) || typeof a.desiredState !== 'string') return `task ${a.id}: invalid version, slot or desired state`;
  if (typeof a.serviceId !== 'string' || typeof a.serviceName !== 'string') return `task ${a.id}: invalid service`;
  for (const k of ['command', 'args', 'env'] as const) if (a[k] !== undefined && !isStrings(a[k])) return `task ${a.id}: ${k} is not a list of strings`;
  for (const k of ['dir', 'user'] as const) if (a[k] !== undefined && typeof a[k] !== 'string') return `task ${a.id}: ${k} is not a string`;
  if (a.stopGracePeriodMs !== undefined && !isUint(a.stopGracePeriodMs)) return `task ${a.id}: invalid stop grace period`;
  if (!Array.isArray(a.files) || a.files.length > MAX_LIST) return `task ${a.id}: files is not a list`;
  for (const f of a.files) {
    const p = fileProblem(f);
    if (p) return `task ${a.id}: ${p}`;
  }
  return null;
}

/**
 * Why an assign message cannot be applied, or null when it is well-formed. The agent refuses a bad one whole (no
 * half-applied state): IDs become folder names on the mount and owners and modes become file attributes.
 */
export function assignProblem(msg: Record<string, unknown>, blobCount: number): string | null {
  if (typeof msg.full !== 'boolean') return 'full is not a boolean';
  for (const k of ['tasks', 'removeTasks', 'objects', 'removeObjects'] as const) {
    const v = msg[k];
    if (!Array.isArray(v) || v.length > MAX_LIST) return `${k} is not a list`;
  }
  const ids = new Set<string>();
  for (const t of msg.tasks as unknown[]) {
    const p = taskProblem(t);
    if (p) return p;
    const id = (t as { id: string }).id;
    if (ids.has(id)) return `task ${id} is listed twice`;
    ids.add(id);
  }
  if (!(msg.removeTasks as unknown[]).every(isId)) return 'removeTasks holds an invalid task ID';
  const used = new Set<number>();
  for (const o of msg.objects as unknown[]) {
    const r = fields(o);
    if (!isKind(r.kind) || !isId(r.id) || !isUint(r.version)) return 'an object has an invalid kind, ID or version';
    if (!isUint(r.blob) || (r.blob as number) >= blobCount || used.has(r.blob as number)) return `object ${r.id}: invalid blob index`;
    used.add(r.blob as number);
  }
  for (const o of msg.removeObjects as unknown[]) {
    const r = fields(o);
    if (!isKind(r.kind) || !isId(r.id)) return 'removeObjects holds an invalid reference';
  }
  return null;
}

/** Why a status message from an agent cannot be recorded (the state's validity is the manager's to check). */
export function statusProblem(msg: Record<string, unknown>): string | null {
  if (!isId(msg.taskId)) return 'invalid task ID';
  if (typeof msg.state !== 'string') return 'invalid state';
  for (const k of ['message', 'err'] as const) {
    const v = msg[k];
    if (v !== undefined && (typeof v !== 'string' || v.length > MAX_STATUS_TEXT)) return `${k} is not a string of at most ${MAX_STATUS_TEXT} characters`;
  }
  if (msg.exitCode !== undefined && !(typeof msg.exitCode === 'number' && Number.isSafeInteger(msg.exitCode))) return 'exitCode is not an integer';
  return null;
}
