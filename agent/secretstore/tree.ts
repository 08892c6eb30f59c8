// The in-memory tree the mount shows: / -> <task>/ -> files (targets may hold sub-folders), kept by inode.
//
// Every version of a file's bytes is a new inode. A rotation points the name at the new inode and tells the kernel
// to drop the old name: readers that opened the old version keep reading it whole (no mix), new opens get the new
// one, and the old bytes are zeroed when the kernel forgets the old inode. A removal (revoke) zeroes the bytes at
// once. Each change returns the kernel notifications that make it visible; it is done when they are delivered.
import { Content } from './content.js';

export const ROOT_INO = 1;
/** Standalone mode: others may pass through to their own task folder (by its path), not list. */
export const ROOT_MODE = 0o040711;
/**
 * Managed mode: root only. Task IDs are visible in every process's mountinfo, and a host user of a task's uid could
 * otherwise walk into MOUNT/<task ID>/; tasks reach their folder through the bind their launcher made as root.
 */
export const ROOT_ONLY_MODE = 0o040700;
export const TASK_DIR_MODE = 0o040500; // only the task's user may list and enter
export const DEFAULT_FILE_MODE = 0o444;

export interface FileSpec {
  /** Path under the task folder, already validated: relative, no '..', no empty parts. */
  target: string;
  /** Bytes in a Buffer the caller allocated for us; the tree takes it over (and wipes it if unused). */
  data: Buffer;
  uid: number;
  gid: number;
  /** Permission bits only (0o7777 at most). */
  mode: number;
}

export interface TaskSpec {
  uid: number;
  gid: number;
  files: FileSpec[];
}

export interface Node {
  ino: number;
  kind: 'dir' | 'file';
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  ctimeMs: number;
  /** Directories: name -> child inode. */
  children?: Map<string, number>;
  content?: Content;
  /** How many lookups the kernel holds on this inode (LOOKUP adds one, FORGET takes some away). */
  nlookup: number;
  /** False once the node left the tree; it lives on only until the kernel forgets it. */
  attached: boolean;
}

export type KernelNotice =
  | { kind: 'inval_inode'; ino: number }
  | { kind: 'inval_entry'; parent: number; name: string }
  | { kind: 'delete'; parent: number; child: number; name: string };

export class SecretTree {
  private readonly nodes = new Map<number, Node>();
  private readonly taskDirs = new Map<string, number>();
  private lastStamp = 0;
  private nextIno = 2; // never reused while mounted (2^53 is out of reach)

  constructor(opts: { rootMode?: number } = {}) {
    const now = this.stamp();
    this.nodes.set(ROOT_INO, {
      ino: ROOT_INO, kind: 'dir', mode: opts.rootMode ?? ROOT_MODE, uid: 0, gid: 0, mtimeMs: now, ctimeMs: now,
      children: new Map(), nlookup: 1, attached: true,
    });
  }

  /** Milliseconds, strictly rising on every change. */
  private stamp(): number {
    this.lastStamp = Math.max(Date.now(), this.lastStamp + 1);
    return this.lastStamp;
  }

  get(ino: number): Node | undefined {
    return this.nodes.get(ino);
  }

  /** The child named `name` of directory `parent`, if attached. */
  child(parent: number, name: string): Node | undefined {
    const ino = this.nodes.get(parent)?.children?.get(name);
    return ino === undefined ? undefined : this.nodes.get(ino);
  }

  /** Resolves a path like "/web/db_password" (for tests and tools; the kernel walks by inode). */
  resolve(path: string): Node | undefined {
    let node = this.nodes.get(ROOT_INO);
    for (const part of path.split('/').filter(Boolean)) {
      if (!node) return undefined;
      node = this.child(node.ino, part);
    }
    return node;
  }

  taskNames(): string[] {
    return [...this.taskDirs.keys()];
  }

  hasTask(name: string): boolean {
    return this.taskDirs.has(name);
  }

  /** Inodes alive (attached or still held by the kernel): for tests and memory checks. */
  get inodeCount(): number {
    return this.nodes.size;
  }

  /** The kernel took one more reference (a LOOKUP answered with this inode). */
  ref(node: Node): void {
    node.nlookup++;
  }

  /** The kernel dropped n references. A detached node with none left is zeroed and freed. */
  forget(ino: number, n: number): void {
    const node = this.nodes.get(ino);
    if (!node || ino === ROOT_INO) return;
    node.nlookup = Math.max(0, node.nlookup - n);
    if (node.nlookup === 0 && !node.attached) {
      node.content?.wipe();
      this.nodes.delete(ino);
    }
  }

  /** Creates or replaces a task's files in one step. */
  setTask(name: string, spec: TaskSpec): KernelNotice[] {
    const notices: KernelNotice[] = [];
    const now = this.stamp();
    const root = this.nodes.get(ROOT_INO)!;
    let dirIno = this.taskDirs.get(name);
    if (dirIno === undefined) {
      dirIno = this.newDir(spec.uid, spec.gid, now).ino;
      this.taskDirs.set(name, dirIno);
      root.children!.set(name, dirIno);
      this.touch(root, now, notices);
    } else {
      const dir = this.nodes.get(dirIno)!;
      if (dir.uid !== spec.uid || dir.gid !== spec.gid) {
        dir.uid = spec.uid;
        dir.gid = spec.gid;
        this.touch(dir, now, notices);
      }
    }

    // Which paths the new spec wants; everything else under the task goes.
    const wanted = new Map<string, FileSpec>(spec.files.map((f) => [f.target, f]));
    const wantedDirs = new Set<string>();
    for (const f of spec.files) {
      const parts = f.target.split('/');
      for (let i = 1; i < parts.length; i++) wantedDirs.add(parts.slice(0, i).join('/'));
    }
    this.prune(dirIno, '', wanted, wantedDirs, now, notices);

    for (const f of spec.files) {
      const parts = f.target.split('/');
      let parent = this.nodes.get(dirIno)!;
      for (const part of parts.slice(0, -1)) {
        let sub = this.child(parent.ino, part);
        if (!sub) {
          sub = this.newDir(spec.uid, spec.gid, now);
          parent.children!.set(part, sub.ino);
          this.touch(parent, now, notices);
        } else if (sub.uid !== spec.uid || sub.gid !== spec.gid) {
          sub.uid = spec.uid;
          sub.gid = spec.gid;
          this.touch(sub, now, notices);
        }
        parent = sub;
      }
      const leaf = parts[parts.length - 1]!;
      const prev = this.child(parent.ino, leaf);
      const mode = 0o100000 | f.mode;
      if (prev && prev.content!.equals(f.data)) {
        f.data.fill(0); // same bytes: keep the old copy (and its mtime), drop the duplicate
        if (prev.uid !== f.uid || prev.gid !== f.gid || prev.mode !== mode) {
          Object.assign(prev, { uid: f.uid, gid: f.gid, mode, ctimeMs: now });
          notices.push({ kind: 'inval_inode', ino: prev.ino });
        }
        continue;
      }
      const node = this.newFile(f, now);
      parent.children!.set(leaf, node.ino);
      if (prev) {
        // A rotation: the name moves to the new inode; the old one serves its open readers until forgotten.
        this.detach(prev, false);
        notices.push({ kind: 'inval_entry', parent: parent.ino, name: leaf }, { kind: 'inval_inode', ino: prev.ino });
      }
      this.touch(parent, now, notices);
    }
    return notices;
  }

  /** Removes a task: its folder disappears and every byte it held is zeroed at once. */
  removeTask(name: string): KernelNotice[] {
    const dirIno = this.taskDirs.get(name);
    if (dirIno === undefined) return [];
    const notices: KernelNotice[] = [];
    const root = this.nodes.get(ROOT_INO)!;
    this.taskDirs.delete(name);
    root.children!.delete(name);
    this.detachTree(this.nodes.get(dirIno)!, notices);
    notices.push({ kind: 'delete', parent: ROOT_INO, child: dirIno, name });
    this.touch(root, this.stamp(), notices);
    return notices;
  }

  /** Zeroes everything (unmount, shutdown). */
  wipeAll(): void {
    for (const name of [...this.taskDirs.keys()]) this.removeTask(name);
    for (const node of this.nodes.values()) node.content?.wipe();
  }

  /** Removes, under dir, every file and folder the new spec does not want. */
  private prune(dirIno: number, base: string, wanted: Map<string, FileSpec>, wantedDirs: Set<string>, now: number, notices: KernelNotice[]): void {
    const dir = this.nodes.get(dirIno)!;
    for (const [name, ino] of [...dir.children!]) {
      const path = base ? `${base}/${name}` : name;
      const node = this.nodes.get(ino)!;
      const keep = node.kind === 'dir' ? wantedDirs.has(path) : wanted.has(path);
      if (keep) {
        if (node.kind === 'dir') this.prune(ino, path, wanted, wantedDirs, now, notices);
        continue;
      }
      dir.children!.delete(name);
      this.detachTree(node, notices);
      notices.push({ kind: 'delete', parent: dirIno, child: ino, name });
      this.touch(dir, now, notices);
    }
  }

  /**
   * Detaches a node and everything under it; revoked bytes are zeroed now. Children are announced deleted before
   * their folder (the kernel refuses to delete a folder whose entries it still holds: ENOTEMPTY).
   */
  private detachTree(node: Node, notices: KernelNotice[]): void {
    for (const [name, ino] of node.children ?? []) {
      const child = this.nodes.get(ino)!;
      this.detachTree(child, notices);
      notices.push({ kind: 'delete', parent: node.ino, child: ino, name });
    }
    this.detach(node, true);
    notices.push({ kind: 'inval_inode', ino: node.ino });
  }

  private detach(node: Node, revoke: boolean): void {
    node.attached = false;
    if (revoke) node.content?.wipe();
    if (node.nlookup === 0) {
      node.content?.wipe();
      this.nodes.delete(node.ino);
    }
  }

  /** A folder's listing or attributes changed: new times, and the kernel must drop its cached copy. */
  private touch(dir: Node, now: number, notices: KernelNotice[]): void {
    const fresh = dir.mtimeMs !== now;
    dir.mtimeMs = now;
    dir.ctimeMs = now;
    if (fresh) notices.push({ kind: 'inval_inode', ino: dir.ino }); // once per folder per change
  }

  private newDir(uid: number, gid: number, now: number): Node {
    const node: Node = {
      ino: this.nextIno++, kind: 'dir', mode: TASK_DIR_MODE, uid, gid, mtimeMs: now, ctimeMs: now,
      children: new Map(), nlookup: 0, attached: true,
    };
    this.nodes.set(node.ino, node);
    return node;
  }

  private newFile(f: FileSpec, now: number): Node {
    const node: Node = {
      ino: this.nextIno++, kind: 'file', mode: 0o100000 | f.mode, uid: f.uid, gid: f.gid, mtimeMs: now, ctimeMs: now,
      content: new Content(f.data), nlookup: 0, attached: true,
    };
    this.nodes.set(node.ino, node);
    return node;
  }
}
