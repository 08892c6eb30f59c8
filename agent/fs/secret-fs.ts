// The secrets filesystem: serves a SecretTree over our own FUSE session. Read-only, RAM-only.
//
// Speed without staleness: the kernel may cache names, attributes, listings and file pages for a long time,
// because every change tells it exactly what to drop (notifications) before the change counts as done. Opens
// cost no round trip at all (zero-message open), so a warm open+read+close never leaves the kernel.
import { openSync, mkdirSync } from 'node:fs';
import type { Logger } from '../../shared/log.js';
import type { KernelNotice, Node, SecretTree } from '../secretstore/tree.js';
import {
  Op, Errno, InitFlag, FUSE_KERNEL_VERSION, FUSE_MAX_MINOR, DT_DIR, DT_REG, FOPEN_KEEP_CACHE, FOPEN_CACHE_DIR,
  attrOut, entryOut, initOut, openOut, statfsOut, pushDirent, notifyDelete, notifyInvalEntry, notifyInvalInode,
  type Attr,
} from './fuse-protocol.js';
import type { FuseRequest } from './fuse-protocol-parse.js';
import { FuseSession, type Reply } from './fuse-session.js';
import { abortFuseConnection, mountFuse, unmountFuse, startUnmountWatchdog } from './mount.js';
import { mountAt } from './mountinfo.js';
import type { ChildProcess } from 'node:child_process';
import { changePublishSeconds, fuseOperations, fuseOpName } from '../metrics.js';

/** Seconds the kernel may trust a name or attribute. Long is safe: every change is announced explicitly. */
const TTL = 3600;

function attrOf(n: Node): Attr {
  return {
    ino: n.ino,
    size: n.content ? n.content.size : 0,
    mode: n.mode,
    nlink: n.kind === 'dir' ? 2 : 1,
    uid: n.uid,
    gid: n.gid,
    mtimeMs: n.mtimeMs,
    ctimeMs: n.ctimeMs,
  };
}

export interface SecretFsOptions {
  mountPoint: string;
  tree: SecretTree;
  log: Logger;
}

export class SecretFs {
  readonly mountPoint: string;
  private readonly tree: SecretTree;
  private readonly log: Logger;
  private session: FuseSession | null = null;
  private watchdog: ChildProcess | null = null;
  private majMin: string | null = null;
  private noOpen = false;
  private noOpendir = false;

  constructor(opts: SecretFsOptions) {
    this.mountPoint = opts.mountPoint;
    this.tree = opts.tree;
    this.log = opts.log;
  }

  async mount(): Promise<void> {
    mkdirSync(this.mountPoint, { recursive: true, mode: 0o755 });
    const fd = openSync('/dev/fuse', 'r+'); // libuv opens with O_CLOEXEC: no child ever inherits it
    const session = new FuseSession(
      fd,
      (req) => {
        fuseOperations.inc({ op: fuseOpName(Op[req.op]) });
        return this.handle(req);
      },
      this.log,
    );
    try {
      await mountFuse(this.mountPoint, fd);
    } catch (err) {
      session.close();
      throw err;
    }
    session.start(); // /dev/fuse answers EPERM until it is mounted; the kernel's INIT waits for us
    this.session = session;
    const entry = mountAt(this.mountPoint);
    if (entry) {
      this.majMin = entry.majMin;
      this.watchdog = startUnmountWatchdog(this.mountPoint, entry.majMin);
    }
    this.log.info({ mount: this.mountPoint, options: entry?.options }, 'mounted');
  }

  async unmount(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = null;
    // Abort while the mount is surely ours: a task's mount namespace still holding it must not keep our reads
    // (and so this stop) waiting, nor leave its readers hanging.
    if (this.majMin && mountAt(this.mountPoint)?.majMin === this.majMin && !(await abortFuseConnection(this.majMin))) {
      this.log.warn({ mount: this.mountPoint }, 'could not abort the FUSE connection (no fusectl?)');
    }
    await unmountFuse(this.mountPoint);
    session.close();
    this.watchdog?.stdin?.end(); // it finds the mount gone and exits
    this.watchdog = null;
    this.log.info({ mount: this.mountPoint }, 'unmounted');
  }

  /** Delivers a change's notifications; the change is visible to every reader once this resolves. */
  async publish(notices: KernelNotice[]): Promise<void> {
    const s = this.session;
    if (!s || notices.length === 0) return;
    const t0 = process.hrtime.bigint();
    const change = notices.some((n) => n.kind === 'delete') ? 'revoke' : 'grant';
    // Names first (so no new open finds a dropped name), then inodes (attributes, pages, listings).
    const ordered = [...notices].sort((a, b) => (a.kind === 'inval_inode' ? 1 : 0) - (b.kind === 'inval_inode' ? 1 : 0));
    for (const n of ordered) {
      let err: string | null;
      if (n.kind === 'inval_inode') err = await s.notify(notifyInvalInode(n.ino));
      else if (n.kind === 'inval_entry') err = await s.notify(notifyInvalEntry(n.parent, n.name));
      else {
        err = await s.notify(notifyDelete(n.parent, n.child, n.name));
        // Whatever the kernel objected to, it must at least forget the name.
        if (err) err = await s.notify(notifyInvalEntry(n.parent, n.name));
      }
      if (err) this.log.warn({ notice: n.kind, err }, 'fuse notification failed');
    }
    changePublishSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9, { change });
  }

  /** One parsed request. Never throws (the session turns a throw into EIO anyway); always answers what needs one. */
  private handle(req: FuseRequest): Reply {
    const tree = this.tree;
    switch (req.op) {
      case 'INIT': {
        if (req.major !== FUSE_KERNEL_VERSION) return -Errno.EINVAL;
        this.noOpen = (req.flags & InitFlag.NO_OPEN_SUPPORT) !== 0;
        this.noOpendir = (req.flags & InitFlag.NO_OPENDIR_SUPPORT) !== 0;
        const want = InitFlag.ASYNC_READ | InitFlag.PARALLEL_DIROPS | InitFlag.EXPLICIT_INVAL_DATA;
        return [initOut(Math.min(req.minor, FUSE_MAX_MINOR), req.maxReadahead, want & req.flags)];
      }
      case 'LOOKUP': {
        const parent = tree.get(req.nodeid);
        if (!parent || parent.kind !== 'dir') return -Errno.ENOENT;
        const node = tree.child(req.nodeid, req.name);
        if (!node) return -Errno.ENOENT; // not cached: a name that appears later is seen at once
        tree.ref(node);
        return [entryOut(attrOf(node), TTL, TTL)];
      }
      case 'FORGET':
        tree.forget(req.nodeid, req.nlookup);
        return null;
      case 'BATCH_FORGET':
        for (const f of req.forgets) tree.forget(f.nodeid, f.nlookup);
        return null;
      case 'GETATTR': {
        const node = tree.get(req.nodeid);
        if (!node) return -Errno.ENOENT;
        return [attrOut(attrOf(node), node.attached ? TTL : 0)];
      }
      case 'OPEN': {
        const node = tree.get(req.nodeid);
        if (!node || !node.attached) return -Errno.ENOENT;
        if (node.kind !== 'file') return -Errno.EISDIR;
        if ((req.flags & 3) !== 0) return -Errno.EROFS;
        // Zero-message open where the kernel offers it: this ENOSYS means "success, and never ask again".
        return this.noOpen ? -Errno.ENOSYS : [openOut(FOPEN_KEEP_CACHE)];
      }
      case 'OPENDIR': {
        const node = tree.get(req.nodeid);
        if (!node || !node.attached) return -Errno.ENOENT;
        if (node.kind !== 'dir') return -Errno.ENOTDIR;
        return this.noOpendir ? -Errno.ENOSYS : [openOut(FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR)];
      }
      case 'READ': {
        const node = tree.get(req.nodeid);
        if (!node || !node.content) return -Errno.EBADF;
        const slice = node.content.slice(req.offset, req.size);
        // Revoked while open: its bytes are zeroed and nothing more is served from it.
        return slice === null ? -Errno.EIO : [slice];
      }
      case 'READDIR':
        return this.readdir(req.nodeid, req.offset, req.size);
      case 'RELEASE':
      case 'RELEASEDIR':
        return [];
      case 'STATFS':
        return [statfsOut(tree.inodeCount)];
      case 'INTERRUPT':
        return null; // every request is answered at once anyway
      case 'DESTROY':
        return [];
      // Everything that would change the tree: the mount is read-only and so are we.
      case 'SETATTR':
      case 'SYMLINK':
      case 'MKNOD':
      case 'MKDIR':
      case 'UNLINK':
      case 'RMDIR':
      case 'RENAME':
      case 'RENAME2':
      case 'LINK':
      case 'WRITE':
      case 'CREATE':
      case 'TMPFILE':
      case 'SETXATTR':
      case 'REMOVEXATTR':
      case 'FALLOCATE':
        return -Errno.EROFS;
      case 'READDIRPLUS': // never asked for (no FUSE_DO_READDIRPLUS in INIT)
      case 'READLINK':
      case 'GETXATTR':
      case 'LISTXATTR':
      case 'FLUSH': // ENOSYS once: the kernel stops sending flushes on close
      case 'FSYNC':
      case 'FSYNCDIR':
      case 'ACCESS':
      case 'LSEEK':
        return -Errno.ENOSYS;
    }
  }

  /** A directory listing from entry `offset` on, as many fuse_dirents as fit in `max` bytes. */
  private readdir(nodeid: number, offset: number, max: number): Reply {
    const tree = this.tree;
    const node = tree.get(nodeid);
    if (!node || node.kind !== 'dir') return -Errno.ENOTDIR;
    const entries: Array<[string, number, number]> = [
      ['.', node.ino, DT_DIR],
      ['..', node.ino, DT_DIR],
    ];
    for (const [name, ino] of node.children ?? []) {
      entries.push([name, ino, tree.get(ino)?.kind === 'dir' ? DT_DIR : DT_REG]);
    }
    const out: Buffer[] = [];
    let used = 0;
    for (let i = offset; i < entries.length; i++) {
      const [name, ino, type] = entries[i]!;
      const next = pushDirent(out, used, max, ino, i + 1, type, name);
      if (next < 0) break;
      used = next;
    }
    return out;
  }
}
