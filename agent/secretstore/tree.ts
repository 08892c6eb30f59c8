// The in-memory tree the mount shows: / -> <task>/ -> files (targets may hold sub-folders).
// Each task is replaced as a whole, so a reader sees a task either before or after an update; each file keeps its
// inode and gets a new Content when its bytes change. Unchanged files keep their Content and mtime.
import { Content } from './content.js';

export const ROOT_MODE = 0o040711; // others may pass through to their own task folder, not list
export const TASK_DIR_MODE = 0o040500; // only the task's user may list and enter
export const DEFAULT_FILE_MODE = 0o444;

export interface FileSpec {
  /** Path under the task folder, already validated: relative, no '..', no empty parts. */
  target: string;
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

export interface Attr {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  ctime: number;
  ino: number;
  nlink: number;
}

interface FileNode {
  kind: 'file';
  attr: Attr;
  content: Content;
}

interface DirNode {
  kind: 'dir';
  attr: Attr;
  children: Map<string, Node>;
}

export type Node = FileNode | DirNode;

interface Task {
  dir: DirNode;
  /** Every Content of this task still not wiped, including replaced ones that a reader still holds. */
  contents: Set<Content>;
}

export class SecretTree {
  private readonly root: DirNode;
  private readonly tasks = new Map<string, Task>();
  private readonly index = new Map<string, Node>();
  private lastStamp = 0;
  private nextIno = 2;

  constructor() {
    const now = this.stamp();
    this.root = {
      kind: 'dir',
      attr: { mode: ROOT_MODE, uid: 0, gid: 0, size: 0, mtime: now, ctime: now, ino: 1, nlink: 2 },
      children: new Map(),
    };
    this.index.set('/', this.root);
  }

  /** Milliseconds, strictly rising on every change (the kernel's attribute cache and readers rely on it). */
  private stamp(): number {
    this.lastStamp = Math.max(Date.now(), this.lastStamp + 1);
    return this.lastStamp;
  }

  lookup(path: string): Node | undefined {
    return this.index.get(path);
  }

  taskNames(): string[] {
    return [...this.tasks.keys()];
  }

  hasTask(name: string): boolean {
    return this.tasks.has(name);
  }

  /** Counts the files of all tasks (for logs and tests). */
  fileCount(): number {
    let n = 0;
    for (const node of this.index.values()) if (node.kind === 'file') n++;
    return n;
  }

  /**
   * Creates or replaces a task's files. Copies nothing: takes ownership of each spec's Buffer (the caller allocated
   * it for us) unless the bytes are unchanged, in which case the new Buffer is wiped and the old one kept.
   */
  setTask(name: string, spec: TaskSpec): void {
    const now = this.stamp();
    const old = this.tasks.get(name);
    const dir = this.newDir(spec.uid, spec.gid, now, old?.dir.attr.ino);
    const task: Task = { dir, contents: old?.contents ?? new Set() };
    const oldFiles = new Map<string, FileNode>();
    if (old) for (const [p, n] of this.walk(old.dir, `/${name}`)) if (n.kind === 'file') oldFiles.set(p, n);

    const replaced: Content[] = [];
    const newIndex = new Map<string, Node>([[`/${name}`, dir]]);
    for (const f of spec.files) {
      const parts = f.target.split('/');
      let parent = dir;
      let path = `/${name}`;
      for (const part of parts.slice(0, -1)) {
        path += `/${part}`;
        let child = parent.children.get(part);
        if (!child || child.kind !== 'dir') {
          const prev = old ? this.index.get(path) : undefined;
          child = this.newDir(spec.uid, spec.gid, now, prev?.attr.ino);
          parent.children.set(part, child);
          newIndex.set(path, child);
        }
        parent = child;
      }
      const leaf = parts[parts.length - 1]!;
      path += `/${leaf}`;
      const prev = oldFiles.get(path);
      let node: FileNode;
      if (prev && prev.content.equals(f.data)) {
        f.data.fill(0); // same bytes: keep the old copy and its mtime; drop the duplicate
        const attrSame = prev.attr.uid === f.uid && prev.attr.gid === f.gid && (prev.attr.mode & 0o7777) === f.mode;
        node = {
          kind: 'file',
          content: prev.content,
          attr: attrSame ? prev.attr : { ...prev.attr, uid: f.uid, gid: f.gid, mode: 0o100000 | f.mode, ctime: now },
        };
        oldFiles.delete(path);
      } else {
        if (prev) {
          replaced.push(prev.content);
          oldFiles.delete(path);
        }
        const content = new Content(f.data);
        task.contents.add(content);
        node = {
          kind: 'file',
          content,
          attr: {
            mode: 0o100000 | f.mode,
            uid: f.uid,
            gid: f.gid,
            size: f.data.length,
            mtime: now,
            ctime: now,
            ino: prev?.attr.ino ?? this.nextIno++,
            nlink: 1,
          },
        };
      }
      parent.children.set(leaf, node);
      newIndex.set(path, node);
    }

    // Swap the task in one step, then retire what it no longer shows.
    if (old) for (const p of this.walk(old.dir, `/${name}`).map(([p]) => p)) this.index.delete(p);
    for (const [p, n] of newIndex) this.index.set(p, n);
    this.tasks.set(name, task);
    this.root.children.set(name, dir);
    if (!old) this.touchRoot(now);
    for (const n of oldFiles.values()) n.content.wipe(); // gone from the task: revoked, wipe at once
    for (const c of replaced) c.retire(); // replaced: wiped once its last reader closes
    for (const c of task.contents) if (c.wiped) task.contents.delete(c);
  }

  /** Removes a task: its folder disappears and every byte it held is zeroed at once. */
  removeTask(name: string): boolean {
    const task = this.tasks.get(name);
    if (!task) return false;
    for (const [p] of this.walk(task.dir, `/${name}`)) this.index.delete(p);
    this.tasks.delete(name);
    this.root.children.delete(name);
    this.touchRoot(this.stamp());
    for (const c of task.contents) c.wipe();
    task.contents.clear();
    return true;
  }

  /** Zeroes everything (unmount, shutdown). */
  wipeAll(): void {
    for (const name of [...this.tasks.keys()]) this.removeTask(name);
  }

  private touchRoot(now: number): void {
    this.root.attr = { ...this.root.attr, mtime: now, ctime: now };
  }

  private newDir(uid: number, gid: number, now: number, ino?: number): DirNode {
    return {
      kind: 'dir',
      attr: { mode: TASK_DIR_MODE, uid, gid, size: 0, mtime: now, ctime: now, ino: ino ?? this.nextIno++, nlink: 2 },
      children: new Map(),
    };
  }

  /** All nodes under dir (dir included), with their paths prefixed by base. */
  private walk(dir: DirNode, base: string): Array<[string, Node]> {
    const out: Array<[string, Node]> = [[base, dir]];
    for (const [name, child] of dir.children) {
      if (child.kind === 'dir') out.push(...this.walk(child, `${base}/${name}`));
      else out.push([`${base}/${name}`, child]);
    }
    return out;
  }
}
