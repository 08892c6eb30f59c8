// The FUSE filesystem over a SecretTree: read-only, RAM-only. The only module that imports fuse-native.
// Handlers never throw and always answer with a number: a throw would kill the agent and leave a dead mount.
import Fuse from 'fuse-native';
import { mkdirSync } from 'node:fs';
import type { Logger } from '../../shared/log.js';
import type { Attr, SecretTree } from '../secretstore/tree.js';
import type { Content } from '../secretstore/content.js';
import { mountOptions, type CacheTuning, DEFAULT_TUNING } from './mount-options.js';

const ENOENT = -2;
const EIO = -5;
const EBADF = -9;
const EISDIR = -21;
const ENOTDIR = -20;
const EROFS = -30;

type StatCb = (code: number, stat?: object) => void;
type CodeCb = (code: number, value?: unknown) => void;
type ReadCb = (code: number) => void;

function toStat(a: Attr, size = a.size): object {
  const mtime = new Date(a.mtime);
  return { mode: a.mode, uid: a.uid, gid: a.gid, size, nlink: a.nlink, ino: a.ino, mtime, atime: mtime, ctime: new Date(a.ctime), blksize: 4096, blocks: Math.ceil(size / 512) };
}

/** fuse-native with the mount options it does not offer (ro, noexec, direct_io, timeouts of 0). */
class TunedFuse extends Fuse {
  constructor(
    mnt: string,
    ops: object,
    opts: object,
    private readonly extra: string[],
  ) {
    super(mnt, ops as never, opts as never);
  }

  protected override _fuseOptions(): string {
    const base = super._fuseOptions();
    const joined = base ? `${base},${this.extra.join(',')}` : `-o${this.extra.join(',')}`;
    return joined;
  }
}

export interface SecretFsOptions {
  mountPoint: string;
  tree: SecretTree;
  log: Logger;
  tuning?: CacheTuning;
}

export class SecretFs {
  private fuse: TunedFuse | null = null;
  private readonly handles = new Map<number, Content>();
  private nextFh = 1;
  private readonly tree: SecretTree;
  private readonly log: Logger;
  readonly mountPoint: string;
  private readonly tuning: CacheTuning;

  constructor(opts: SecretFsOptions) {
    this.tree = opts.tree;
    this.log = opts.log;
    this.mountPoint = opts.mountPoint;
    this.tuning = opts.tuning ?? DEFAULT_TUNING;
  }

  get openHandles(): number {
    return this.handles.size;
  }

  async mount(): Promise<void> {
    mkdirSync(this.mountPoint, { recursive: true, mode: 0o755 });
    const { fuseOpts, extra } = mountOptions(this.tuning);
    const fuse = new TunedFuse(this.mountPoint, this.ops(), fuseOpts, extra);
    await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
    this.fuse = fuse;
    this.log.info({ mount: this.mountPoint, options: extra }, 'mounted');
  }

  async unmount(): Promise<void> {
    const fuse = this.fuse;
    if (!fuse) return;
    this.fuse = null;
    await new Promise<void>((resolve, reject) => fuse.unmount((err) => (err ? reject(err) : resolve())));
    this.log.info({ mount: this.mountPoint }, 'unmounted');
  }

  /** Wraps a handler so that an unexpected throw answers EIO instead of killing the process. */
  private guard<A extends unknown[]>(name: string, fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (err) {
        this.log.error({ op: name, err: err instanceof Error ? err.message : String(err) }, 'fuse handler failed');
        const cb = args[args.length - 1];
        if (typeof cb === 'function') (cb as (c: number) => void)(EIO);
      }
    };
  }

  private ops(): object {
    const tree = this.tree;
    const handles = this.handles;
    const rofs = (cb: CodeCb) => cb(EROFS);
    return {
      getattr: this.guard('getattr', (path: string, cb: StatCb) => {
        const node = tree.lookup(path);
        if (!node) return cb(ENOENT);
        cb(0, toStat(node.attr));
      }),
      fgetattr: this.guard('fgetattr', (path: string, fh: number, cb: StatCb) => {
        const node = tree.lookup(path);
        const content = handles.get(fh);
        if (!node) return cb(ENOENT);
        // An open file reports the size of the version it reads, so fstat-then-read readers get it whole.
        cb(0, toStat(node.attr, content && !content.wiped ? content.size : node.attr.size));
      }),
      readdir: this.guard('readdir', (path: string, cb: (code: number, names?: string[]) => void) => {
        const node = tree.lookup(path);
        if (!node) return cb(ENOENT);
        if (node.kind !== 'dir') return cb(ENOTDIR);
        cb(0, [...node.children.keys()]);
      }),
      open: this.guard('open', (path: string, flags: number, cb: CodeCb) => {
        if ((flags & 3) !== 0) return cb(EROFS); // O_WRONLY or O_RDWR
        const node = tree.lookup(path);
        if (!node) return cb(ENOENT);
        if (node.kind !== 'file') return cb(EISDIR);
        // The handle pins this version of the bytes: a rotation never shows this reader a mix.
        const fh = this.allocFh();
        node.content.acquire();
        handles.set(fh, node.content);
        cb(0, fh);
      }),
      read: this.guard('read', (_path: string, fh: number, buf: Buffer, len: number, pos: number, cb: ReadCb) => {
        const content = handles.get(fh);
        if (!content) return cb(EBADF);
        const n = content.readInto(buf, len, pos);
        cb(n < 0 ? EIO : n); // wiped (revoked) while open: no bytes, ever
      }),
      release: this.guard('release', (_path: string, fh: number, cb: CodeCb) => {
        const content = handles.get(fh);
        handles.delete(fh);
        content?.release();
        cb(0);
      }),
      // Write-like operations: the mount is read-only (the kernel answers EROFS first); these are belt and braces.
      write: this.guard('write', (_p: string, _fh: number, _b: Buffer, _l: number, _o: number, cb: CodeCb) => cb(EROFS)),
      create: this.guard('create', (_p: string, _m: number, cb: CodeCb) => rofs(cb)),
      truncate: this.guard('truncate', (_p: string, _s: number, cb: CodeCb) => rofs(cb)),
      ftruncate: this.guard('ftruncate', (_p: string, _fh: number, _s: number, cb: CodeCb) => rofs(cb)),
      chmod: this.guard('chmod', (_p: string, _m: number, cb: CodeCb) => rofs(cb)),
      chown: this.guard('chown', (_p: string, _u: number, _g: number, cb: CodeCb) => rofs(cb)),
      utimens: this.guard('utimens', (_p: string, _a: number, _m: number, cb: CodeCb) => rofs(cb)),
      unlink: this.guard('unlink', (_p: string, cb: CodeCb) => rofs(cb)),
      rename: this.guard('rename', (_p: string, _d: string, cb: CodeCb) => rofs(cb)),
      link: this.guard('link', (_p: string, _d: string, cb: CodeCb) => rofs(cb)),
      symlink: this.guard('symlink', (_p: string, _d: string, cb: CodeCb) => rofs(cb)),
      mkdir: this.guard('mkdir', (_p: string, _m: number, cb: CodeCb) => rofs(cb)),
      rmdir: this.guard('rmdir', (_p: string, cb: CodeCb) => rofs(cb)),
      mknod: this.guard('mknod', (_p: string, _m: number, _d: number, cb: CodeCb) => rofs(cb)),
      setxattr: this.guard('setxattr', (_p: string, _n: string, _v: Buffer, _pos: number, _f: number, cb: CodeCb) => rofs(cb)),
      removexattr: this.guard('removexattr', (_p: string, _n: string, cb: CodeCb) => rofs(cb)),
    };
  }

  private allocFh(): number {
    // fuse-native passes handles as 32-bit numbers; skip 0 and any still in use after a wrap.
    do {
      this.nextFh = this.nextFh >= 0xfffffff0 ? 1 : this.nextFh + 1;
    } while (this.handles.has(this.nextFh));
    return this.nextFh;
  }
}
