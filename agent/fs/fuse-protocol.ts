// The FUSE kernel protocol (linux/fuse.h, 7.x): the opcodes we serve and the replies and notifications we write
// (requests are parsed in fuse-protocol-parse.ts).
// We speak it directly on /dev/fuse instead of through libfuse, so that we can tell the kernel exactly when its
// caches go stale (notify messages), which is what makes the mount both fast and never stale.

export const FUSE_KERNEL_VERSION = 7;
export const FUSE_MAX_MINOR = 38; // what this code was written against (Linux 6.x headers)

export const Op = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  DESTROY: 38,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  TMPFILE: 51,
} as const;

export const Notify = { INVAL_INODE: 2, INVAL_ENTRY: 3, DELETE: 6 } as const;

export const InitFlag = {
  ASYNC_READ: 1 << 0,
  PARALLEL_DIROPS: 1 << 18,
  NO_OPEN_SUPPORT: 1 << 17,
  NO_OPENDIR_SUPPORT: 1 << 24,
  EXPLICIT_INVAL_DATA: 1 << 25,
} as const;

export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_CACHE_DIR = 1 << 3;

export const Errno = {
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EROFS: 30,
  ENOSYS: 38,
  ENODATA: 61,
} as const;

export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
const ATTR_SIZE = 88;

/** An out header for a reply of `bodyLen` bytes (error 0) or an error reply (negative errno, no body). */
export function outHeader(unique: bigint, error: number, bodyLen: number): Buffer {
  const h = Buffer.allocUnsafe(OUT_HEADER_SIZE);
  h.writeUInt32LE(OUT_HEADER_SIZE + bodyLen, 0);
  h.writeInt32LE(error, 4);
  h.writeBigUInt64LE(unique, 8);
  return h;
}

export interface Attr {
  ino: number;
  size: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  /** Milliseconds since the epoch (atime = mtime). */
  mtimeMs: number;
  ctimeMs: number;
}

function writeTime(b: Buffer, secOff: number, nsecOff: number, ms: number): void {
  const sec = Math.floor(ms / 1000);
  b.writeBigUInt64LE(BigInt(sec), secOff);
  b.writeUInt32LE(Math.round((ms - sec * 1000) * 1e6), nsecOff);
}

function writeAttr(b: Buffer, off: number, a: Attr): void {
  b.writeBigUInt64LE(BigInt(a.ino), off);
  b.writeBigUInt64LE(BigInt(a.size), off + 8);
  b.writeBigUInt64LE(BigInt(Math.ceil(a.size / 512)), off + 16);
  writeTime(b, off + 24, off + 48, a.mtimeMs); // atime
  writeTime(b, off + 32, off + 52, a.mtimeMs); // mtime
  writeTime(b, off + 40, off + 56, a.ctimeMs); // ctime
  b.writeUInt32LE(a.mode, off + 60);
  b.writeUInt32LE(a.nlink, off + 64);
  b.writeUInt32LE(a.uid, off + 68);
  b.writeUInt32LE(a.gid, off + 72);
  b.writeUInt32LE(0, off + 76); // rdev
  b.writeUInt32LE(4096, off + 80); // blksize
  b.writeUInt32LE(0, off + 84); // flags
}

function writeTimeout(b: Buffer, secOff: number, nsecOff: number, seconds: number): void {
  b.writeBigUInt64LE(BigInt(Math.floor(seconds)), secOff);
  b.writeUInt32LE(Math.round((seconds % 1) * 1e9), nsecOff);
}

/** fuse_entry_out: the answer to LOOKUP. */
export function entryOut(a: Attr, entryTtl: number, attrTtl: number): Buffer {
  const b = Buffer.alloc(40 + ATTR_SIZE);
  b.writeBigUInt64LE(BigInt(a.ino), 0);
  b.writeBigUInt64LE(0n, 8); // generation: inode numbers are never reused while mounted
  writeTimeout(b, 16, 32, entryTtl);
  writeTimeout(b, 24, 36, attrTtl);
  writeAttr(b, 40, a);
  return b;
}

/** fuse_attr_out: the answer to GETATTR. */
export function attrOut(a: Attr, attrTtl: number): Buffer {
  const b = Buffer.alloc(16 + ATTR_SIZE);
  writeTimeout(b, 0, 8, attrTtl);
  writeAttr(b, 16, a);
  return b;
}

export function openOut(flags: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(flags, 8);
  return b;
}

export function statfsOut(files: number): Buffer {
  const b = Buffer.alloc(80);
  b.writeBigUInt64LE(BigInt(files), 24);
  b.writeUInt32LE(4096, 40); // bsize
  b.writeUInt32LE(255, 44); // namelen
  b.writeUInt32LE(4096, 48); // frsize
  return b;
}

export function initOut(minor: number, maxReadahead: number, flags: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(FUSE_KERNEL_VERSION, 0);
  b.writeUInt32LE(minor, 4);
  b.writeUInt32LE(maxReadahead, 8);
  b.writeUInt32LE(flags, 12);
  b.writeUInt16LE(16, 16); // max_background
  b.writeUInt16LE(12, 18); // congestion_threshold
  b.writeUInt32LE(4096, 20); // max_write: we never accept writes
  b.writeUInt32LE(1, 24); // time_gran: nanoseconds
  return b;
}

export const DT_DIR = 4;
export const DT_REG = 8;

/** Appends one fuse_dirent (8-byte aligned) to out; returns false when it does not fit in `max` bytes. */
export function pushDirent(out: Buffer[], used: number, max: number, ino: number, off: number, type: number, name: string): number {
  const nameBytes = Buffer.from(name);
  const size = (24 + nameBytes.length + 7) & ~7;
  if (used + size > max) return -1;
  const b = Buffer.alloc(size);
  b.writeBigUInt64LE(BigInt(ino), 0);
  b.writeBigUInt64LE(BigInt(off), 8);
  b.writeUInt32LE(nameBytes.length, 16);
  b.writeUInt32LE(type, 20);
  nameBytes.copy(b, 24);
  out.push(b);
  return used + size;
}

export function notifyInvalInode(ino: number): Buffer[] {
  const body = Buffer.alloc(24);
  body.writeBigUInt64LE(BigInt(ino), 0);
  body.writeBigInt64LE(0n, 8); // from offset 0...
  body.writeBigInt64LE(0n, 16); // ...to the end (len 0 = all)
  return [outHeader(0n, Notify.INVAL_INODE, body.length), body];
}

export function notifyInvalEntry(parent: number, name: string): Buffer[] {
  const nameBytes = Buffer.from(name);
  const body = Buffer.alloc(16 + nameBytes.length + 1);
  body.writeBigUInt64LE(BigInt(parent), 0);
  body.writeUInt32LE(nameBytes.length, 8);
  nameBytes.copy(body, 16);
  return [outHeader(0n, Notify.INVAL_ENTRY, body.length), body];
}

export function notifyDelete(parent: number, child: number, name: string): Buffer[] {
  const nameBytes = Buffer.from(name);
  const body = Buffer.alloc(24 + nameBytes.length + 1);
  body.writeBigUInt64LE(BigInt(parent), 0);
  body.writeBigUInt64LE(BigInt(child), 8);
  body.writeUInt32LE(nameBytes.length, 16);
  nameBytes.copy(body, 24);
  return [outHeader(0n, Notify.DELETE, body.length), body];
}
