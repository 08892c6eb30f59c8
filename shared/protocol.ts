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
