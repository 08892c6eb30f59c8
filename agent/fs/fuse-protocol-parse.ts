// Parsing what the kernel sends on /dev/fuse into one typed value per opcode (linux/fuse.h, 7.x).
//
// Every size is checked before a byte is read: the header's length against what the read returned, each opcode's
// fixed body against its table entry (as go-fuse's opcode table does), names against the NUL that must end them
// inside the body, and variable tails (BATCH_FORGET's entries, WRITE's and SETXATTR's data) against the count or
// size that announces them. Nothing here throws: a request that does not parse becomes a ParseFailure carrying
// the errno to answer with (when there is a caller to answer) and a fixed reason, never any payload bytes.
import { isUtf8 } from 'node:buffer';
import { Errno, IN_HEADER_SIZE, Op } from './fuse-protocol.js';

export type OpName = keyof typeof Op;

/** The fuse_in_header fields every request carries (its length and opcode are used up by the parser). */
export interface RequestHeader {
  unique: bigint;
  /** An inode number we handed out (or 1, the root; 0 where the opcode names none): always a safe integer. */
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
}

type Req<K extends OpName, F = object> = RequestHeader & { op: K } & F;

/** Bodies the kernel reads fuse_open_in / fuse_read_in / fuse_release_in / fuse_fsync_in into. */
interface OpenIn { flags: number; openFlags: number }
interface ReadIn { fh: bigint; offset: number; size: number; readFlags: number; flags: number }
interface ReleaseIn { fh: bigint; flags: number; releaseFlags: number }
interface FsyncIn { fh: bigint; fsyncFlags: number }
interface CreateIn { flags: number; mode: number; umask: number; openFlags: number; name: string }

export interface ForgetOne {
  nodeid: number;
  nlookup: number;
}

export type FuseRequest =
  | Req<'INIT', { major: number; minor: number; maxReadahead: number; flags: number }>
  | Req<'LOOKUP', { name: string }>
  | Req<'FORGET', { nlookup: number }>
  | Req<'BATCH_FORGET', { forgets: ForgetOne[] }>
  | Req<'GETATTR', { getattrFlags: number; fh: bigint }>
  | Req<'SETATTR', { valid: number }>
  | Req<'READLINK'>
  | Req<'SYMLINK', { name: string; target: string }>
  | Req<'MKNOD', { mode: number; rdev: number; umask: number; name: string }>
  | Req<'MKDIR', { mode: number; umask: number; name: string }>
  | Req<'UNLINK', { name: string }>
  | Req<'RMDIR', { name: string }>
  | Req<'RENAME', { newParent: number; name: string; newName: string }>
  | Req<'RENAME2', { newParent: number; flags: number; name: string; newName: string }>
  | Req<'LINK', { oldNodeid: number; name: string }>
  | Req<'OPEN', OpenIn>
  | Req<'READ', ReadIn>
  // WRITE's and SETXATTR's data are checked for size and never kept: this mount takes no bytes from anyone.
  | Req<'WRITE', { fh: bigint; offset: number; size: number }>
  | Req<'STATFS'>
  | Req<'RELEASE', ReleaseIn>
  | Req<'FSYNC', FsyncIn>
  | Req<'SETXATTR', { size: number; flags: number; name: string }>
  | Req<'GETXATTR', { size: number; name: string }>
  | Req<'LISTXATTR', { size: number }>
  | Req<'REMOVEXATTR', { name: string }>
  | Req<'FLUSH', { fh: bigint }>
  | Req<'OPENDIR', OpenIn>
  | Req<'READDIR', ReadIn>
  | Req<'RELEASEDIR', ReleaseIn>
  | Req<'FSYNCDIR', FsyncIn>
  | Req<'ACCESS', { mask: number }>
  | Req<'CREATE', CreateIn>
  | Req<'INTERRUPT', { target: bigint }>
  | Req<'DESTROY'>
  | Req<'FALLOCATE', { fh: bigint; offset: number; length: number; mode: number }>
  | Req<'READDIRPLUS', ReadIn>
  | Req<'LSEEK', { fh: bigint; offset: number; whence: number }>
  | Req<'TMPFILE', CreateIn>;

export type ParseFailureKind =
  /** The request breaks the protocol (sizes, names, counts): answered with errno and logged. */
  | 'malformed'
  /** An opcode we do not serve: answered ENOSYS (the kernel then stops sending most of them). */
  | 'unsupported'
  /** A well-formed name that is not UTF-8: nothing of ours can bear it, so it is simply not there (ENOENT). */
  | 'no_such_name';

export interface ParseFailure {
  kind: ParseFailureKind;
  opcode: number;
  /** null when the header itself could not be read: then there is nobody to answer. */
  unique: bigint | null;
  /** Positive errno to answer with. */
  errno: number;
  /** False for requests the kernel awaits no answer to (FORGET, BATCH_FORGET). */
  reply: boolean;
  /** Fixed text naming what was wrong; never contains request bytes. */
  reason: string;
  /** The header's length field and the bytes actually read (sizes only, for the log). */
  headerLen: number;
  readLen: number;
}

export type ParseResult = { ok: true; req: FuseRequest } | { ok: false; failure: ParseFailure };

/** Where the names of a request start and what must follow them. */
type Tail =
  | { kind: 'none' }
  | { kind: 'names'; count: 1 | 2 }
  /** A name, then exactly `size` bytes (size read from the fixed part at sizeAt). */
  | { kind: 'name+data'; sizeAt: number }
  /** Exactly `size` bytes (size read from the fixed part at sizeAt). */
  | { kind: 'data'; sizeAt: number }
  /** count (u32 at 0) entries of 16 bytes. */
  | { kind: 'forgets' }
  /** The fixed part may be followed by fields newer kernels add, up to maxBody bytes in all. */
  | { kind: 'extensible'; maxBody: number };

interface OpSpec {
  name: OpName;
  /** Bytes of the fixed-size struct that starts the body. */
  fixed: number;
  tail: Tail;
  reply: boolean;
}

const NONE: Tail = { kind: 'none' };
const NAME: Tail = { kind: 'names', count: 1 };
const TWO_NAMES: Tail = { kind: 'names', count: 2 };

// Sizes from linux/fuse.h (protocol 7.9 and later; we negotiate at most 7.38).
const SPECS: ReadonlyArray<[number, number, Tail, boolean?]> = [
  [Op.INIT, 16, { kind: 'extensible', maxBody: 64 }], // fuse_init_in: 16 bytes, 64 with FUSE_INIT_EXT (7.36)
  [Op.LOOKUP, 0, NAME],
  [Op.FORGET, 8, NONE, false], // fuse_forget_in
  [Op.BATCH_FORGET, 8, { kind: 'forgets' }, false], // fuse_batch_forget_in + count x fuse_forget_one
  [Op.GETATTR, 16, NONE], // fuse_getattr_in
  [Op.SETATTR, 88, NONE], // fuse_setattr_in
  [Op.READLINK, 0, NONE],
  [Op.SYMLINK, 0, TWO_NAMES], // name, then the link's target
  [Op.MKNOD, 16, NAME], // fuse_mknod_in
  [Op.MKDIR, 8, NAME], // fuse_mkdir_in
  [Op.UNLINK, 0, NAME],
  [Op.RMDIR, 0, NAME],
  [Op.RENAME, 8, TWO_NAMES], // fuse_rename_in
  [Op.RENAME2, 16, TWO_NAMES], // fuse_rename2_in
  [Op.LINK, 8, NAME], // fuse_link_in
  [Op.OPEN, 8, NONE], // fuse_open_in
  [Op.READ, 40, NONE], // fuse_read_in
  [Op.WRITE, 40, { kind: 'data', sizeAt: 16 }], // fuse_write_in + size bytes
  [Op.STATFS, 0, NONE],
  [Op.RELEASE, 24, NONE], // fuse_release_in
  [Op.FSYNC, 16, NONE], // fuse_fsync_in
  [Op.SETXATTR, 8, { kind: 'name+data', sizeAt: 0 }], // fuse_setxattr_in (without FUSE_SETXATTR_EXT, never asked)
  [Op.GETXATTR, 8, NAME], // fuse_getxattr_in
  [Op.LISTXATTR, 8, NONE], // fuse_getxattr_in
  [Op.REMOVEXATTR, 0, NAME],
  [Op.FLUSH, 24, NONE], // fuse_flush_in
  [Op.OPENDIR, 8, NONE], // fuse_open_in
  [Op.READDIR, 40, NONE], // fuse_read_in
  [Op.RELEASEDIR, 24, NONE], // fuse_release_in
  [Op.FSYNCDIR, 16, NONE], // fuse_fsync_in
  [Op.ACCESS, 8, NONE], // fuse_access_in
  [Op.CREATE, 16, NAME], // fuse_create_in
  [Op.INTERRUPT, 8, NONE], // fuse_interrupt_in
  [Op.DESTROY, 0, NONE],
  [Op.FALLOCATE, 32, NONE], // fuse_fallocate_in
  [Op.READDIRPLUS, 40, NONE], // fuse_read_in
  [Op.LSEEK, 24, NONE], // fuse_lseek_in
  [Op.TMPFILE, 16, NAME], // fuse_create_in
];

const OP_NAME = new Map<number, OpName>(Object.entries(Op).map(([name, code]) => [code, name as OpName]));

/** The opcode table: each opcode we serve, with its fixed body size and what follows it. */
export const OPCODES: ReadonlyMap<number, OpSpec> = new Map(
  SPECS.map(([code, fixed, tail, reply]) => [code, { name: OP_NAME.get(code)!, fixed, tail, reply: reply ?? true }]),
);

const FORGET_ONE_SIZE = 16;

function fail(
  kind: ParseFailureKind, opcode: number, unique: bigint | null, errno: number, reply: boolean, reason: string,
  headerLen: number, readLen: number,
): ParseResult {
  return { ok: false, failure: { kind, opcode, unique, errno, reply, reason, headerLen, readLen } };
}

/** A u64 as a number; values past 2^53 (never offsets or counts we could serve) saturate instead of rounding. */
function u64(b: Buffer, off: number): number {
  const v = b.readBigUInt64LE(off);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/**
 * Splits `count` NUL-terminated names off body[from..]; returns them with the offset after the last NUL, or a
 * reason. Names are decoded only when they are UTF-8 (the tree's names all are; a lossy decode could alias one).
 */
function readNames(body: Buffer, from: number, count: number): { names: string[]; end: number } | 'unterminated' | 'not_utf8' {
  const names: string[] = [];
  let at = from;
  for (let i = 0; i < count; i++) {
    const nul = body.indexOf(0, at);
    if (nul < 0) return 'unterminated';
    const bytes = body.subarray(at, nul);
    if (!isUtf8(bytes)) return 'not_utf8';
    names.push(bytes.toString('utf8'));
    at = nul + 1;
  }
  return { names, end: at };
}

/** Parses one request as read from /dev/fuse (exactly the bytes read). Never throws. */
export function parseRequest(msg: Buffer): ParseResult {
  const readLen = msg.length;
  if (readLen < IN_HEADER_SIZE) return fail('malformed', -1, null, Errno.EIO, false, 'shorter than the header', -1, readLen);
  const headerLen = msg.readUInt32LE(0);
  const opcode = msg.readUInt32LE(4);
  const unique = msg.readBigUInt64LE(8);
  const spec = OPCODES.get(opcode);
  const reply = spec?.reply ?? true;
  const bad = (reason: string, errno: number = Errno.EIO): ParseResult =>
    fail('malformed', opcode, unique, errno, reply, reason, headerLen, readLen);
  if (headerLen < readLen) return bad('longer than its header says');
  if (headerLen > readLen) return bad('shorter than its header says');
  const rawNodeid = msg.readBigUInt64LE(16);
  if (rawNodeid > BigInt(Number.MAX_SAFE_INTEGER)) return bad('node id out of range', Errno.EINVAL);
  if (!spec) return fail('unsupported', opcode, unique, Errno.ENOSYS, true, 'opcode not served', headerLen, readLen);
  const body = msg.subarray(IN_HEADER_SIZE);
  if (body.length < spec.fixed) return bad('body shorter than its opcode requires');

  // The tail: everything after the fixed part must be exactly what the opcode announces.
  let names: string[] = [];
  const tail = spec.tail;
  switch (tail.kind) {
    case 'none':
      if (body.length !== spec.fixed) return bad('body longer than its opcode allows');
      break;
    case 'extensible':
      if (body.length > tail.maxBody) return bad('body longer than its opcode allows');
      break;
    case 'forgets': {
      const count = body.readUInt32LE(0);
      if (body.length !== spec.fixed + count * FORGET_ONE_SIZE) return bad('forget count does not match the body');
      break;
    }
    case 'data': {
      if (body.length !== spec.fixed + body.readUInt32LE(tail.sizeAt)) return bad('data size does not match the body');
      break;
    }
    case 'names':
    case 'name+data': {
      const r = readNames(body, spec.fixed, tail.kind === 'names' ? tail.count : 1);
      if (r === 'unterminated') return bad('name not NUL-terminated within the body', Errno.EINVAL);
      if (r === 'not_utf8') return fail('no_such_name', opcode, unique, Errno.ENOENT, reply, 'name is not UTF-8', headerLen, readLen);
      const rest = body.length - r.end;
      const want = tail.kind === 'names' ? 0 : body.readUInt32LE(tail.sizeAt);
      if (rest !== want) return bad(tail.kind === 'names' ? 'bytes after the last name' : 'data size does not match the body');
      names = r.names;
      break;
    }
  }

  const h: RequestHeader = {
    unique,
    nodeid: Number(rawNodeid),
    uid: msg.readUInt32LE(24),
    gid: msg.readUInt32LE(28),
    pid: msg.readUInt32LE(32),
  };
  return { ok: true, req: decodeBody(spec.name, h, body, names) };
}

/** The typed value of a request whose sizes and names were all checked (so every read below is in bounds). */
function decodeBody(op: OpName, h: RequestHeader, b: Buffer, names: string[]): FuseRequest {
  const name = names[0] ?? '';
  const readIn = (): ReadIn => ({
    fh: b.readBigUInt64LE(0), offset: u64(b, 8), size: b.readUInt32LE(16), readFlags: b.readUInt32LE(20), flags: b.readUInt32LE(32),
  });
  const openIn = (): OpenIn => ({ flags: b.readUInt32LE(0), openFlags: b.readUInt32LE(4) });
  const releaseIn = (): ReleaseIn => ({ fh: b.readBigUInt64LE(0), flags: b.readUInt32LE(8), releaseFlags: b.readUInt32LE(12) });
  const fsyncIn = (): FsyncIn => ({ fh: b.readBigUInt64LE(0), fsyncFlags: b.readUInt32LE(8) });
  const createIn = (): CreateIn => ({
    flags: b.readUInt32LE(0), mode: b.readUInt32LE(4), umask: b.readUInt32LE(8), openFlags: b.readUInt32LE(12), name,
  });
  switch (op) {
    case 'INIT':
      return { ...h, op: 'INIT', major: b.readUInt32LE(0), minor: b.readUInt32LE(4), maxReadahead: b.readUInt32LE(8), flags: b.readUInt32LE(12) };
    case 'LOOKUP': return { ...h, op: 'LOOKUP', name };
    case 'FORGET': return { ...h, op: 'FORGET', nlookup: u64(b, 0) };
    case 'BATCH_FORGET': {
      const forgets: ForgetOne[] = [];
      for (let off = 8; off < b.length; off += FORGET_ONE_SIZE) forgets.push({ nodeid: u64(b, off), nlookup: u64(b, off + 8) });
      return { ...h, op: 'BATCH_FORGET', forgets };
    }
    case 'GETATTR': return { ...h, op: 'GETATTR', getattrFlags: b.readUInt32LE(0), fh: b.readBigUInt64LE(8) };
    case 'SETATTR': return { ...h, op: 'SETATTR', valid: b.readUInt32LE(0) };
    case 'READLINK': return { ...h, op: 'READLINK' };
    case 'SYMLINK': return { ...h, op: 'SYMLINK', name, target: names[1]! };
    case 'MKNOD': return { ...h, op: 'MKNOD', mode: b.readUInt32LE(0), rdev: b.readUInt32LE(4), umask: b.readUInt32LE(8), name };
    case 'MKDIR': return { ...h, op: 'MKDIR', mode: b.readUInt32LE(0), umask: b.readUInt32LE(4), name };
    case 'UNLINK': return { ...h, op: 'UNLINK', name };
    case 'RMDIR': return { ...h, op: 'RMDIR', name };
    case 'RENAME': return { ...h, op: 'RENAME', newParent: u64(b, 0), name, newName: names[1]! };
    case 'RENAME2': return { ...h, op: 'RENAME2', newParent: u64(b, 0), flags: b.readUInt32LE(8), name, newName: names[1]! };
    case 'LINK': return { ...h, op: 'LINK', oldNodeid: u64(b, 0), name };
    case 'OPEN': return { ...h, op: 'OPEN', ...openIn() };
    case 'READ': return { ...h, op: 'READ', ...readIn() };
    case 'WRITE': return { ...h, op: 'WRITE', fh: b.readBigUInt64LE(0), offset: u64(b, 8), size: b.readUInt32LE(16) };
    case 'STATFS': return { ...h, op: 'STATFS' };
    case 'RELEASE': return { ...h, op: 'RELEASE', ...releaseIn() };
    case 'FSYNC': return { ...h, op: 'FSYNC', ...fsyncIn() };
    case 'SETXATTR': return { ...h, op: 'SETXATTR', size: b.readUInt32LE(0), flags: b.readUInt32LE(4), name };
    case 'GETXATTR': return { ...h, op: 'GETXATTR', size: b.readUInt32LE(0), name };
    case 'LISTXATTR': return { ...h, op: 'LISTXATTR', size: b.readUInt32LE(0) };
    case 'REMOVEXATTR': return { ...h, op: 'REMOVEXATTR', name };
    case 'FLUSH': return { ...h, op: 'FLUSH', fh: b.readBigUInt64LE(0) };
    case 'OPENDIR': return { ...h, op: 'OPENDIR', ...openIn() };
    case 'READDIR': return { ...h, op: 'READDIR', ...readIn() };
    case 'RELEASEDIR': return { ...h, op: 'RELEASEDIR', ...releaseIn() };
    case 'FSYNCDIR': return { ...h, op: 'FSYNCDIR', ...fsyncIn() };
    case 'ACCESS': return { ...h, op: 'ACCESS', mask: b.readUInt32LE(0) };
    case 'CREATE': return { ...h, op: 'CREATE', ...createIn() };
    case 'INTERRUPT': return { ...h, op: 'INTERRUPT', target: b.readBigUInt64LE(0) };
    case 'DESTROY': return { ...h, op: 'DESTROY' };
    case 'FALLOCATE':
      return { ...h, op: 'FALLOCATE', fh: b.readBigUInt64LE(0), offset: u64(b, 8), length: u64(b, 16), mode: b.readUInt32LE(24) };
    case 'READDIRPLUS': return { ...h, op: 'READDIRPLUS', ...readIn() };
    case 'LSEEK': return { ...h, op: 'LSEEK', fh: b.readBigUInt64LE(0), offset: u64(b, 8), whence: b.readUInt32LE(16) };
    case 'TMPFILE': return { ...h, op: 'TMPFILE', ...createIn() };
  }
}
