// Standalone mode: a watched folder of task manifests drives the tree the mount shows. No manager needed.
// Every change is applied per task in one step; a bad manifest is refused and its task keeps its last good state.
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import type { KernelNotice, SecretTree } from '../secretstore/tree.js';
import { isManifestFile, parseManifest, unreadableFiles, ManifestError, type Manifest } from './manifest.js';
import { readSources } from './source-reader.js';
import { DirWatcher } from './dir-watcher.js';
import { refusedInputs } from '../metrics.js';

interface Applied {
  manifest: Manifest;
}

export interface StandaloneOptions {
  tasksDir: string;
  tree: SecretTree;
  log: Logger;
  /** Makes a change visible to readers (kernel cache notifications); resolves when it is. */
  publish: (notices: KernelNotice[]) => Promise<void>;
}

/** After each read, look again this much later: catches a change that raced the read or whose event was merged. */
const RECHECK_MS = 80;
/** An empty manifest is read again this much later before it is refused: an editor saving in place truncates the
 * file, then writes it, and the empty moment is not what the operator meant. */
const EMPTY_SETTLE_MS = 300;

/** What identifies the current version of a set of files: inode, size, mtime, ctime of each (order-free). */
async function fingerprint(paths: string[]): Promise<string> {
  const parts: string[] = [];
  for (const p of [...new Set(paths)].sort()) {
    try {
      const s = await stat(p);
      parts.push(`${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`);
    } catch {
      parts.push('-');
    }
  }
  // A digest keeps the remembered fingerprint small, however many sources a manifest has.
  return createHash('sha256').update(parts.join('|')).digest('base64');
}

export class StandaloneTasks {
  private readonly tasksDir: string;
  private readonly tree: SecretTree;
  private readonly log: Logger;
  private readonly publish: (notices: KernelNotice[]) => Promise<void>;
  /** Manifest path -> fingerprint of it and its sources when last read, and the re-check timer. */
  private readonly seen = new Map<string, { print: string; timer?: NodeJS.Timeout }>();
  private watcher: DirWatcher | null = null;
  /** Manifest path -> what it last applied successfully. */
  private readonly applied = new Map<string, Applied>();
  /** Source path -> manifests that use it, so an edited source reloads them. */
  private readonly sourceUsers = new Map<string, Set<string>>();
  private queue: Promise<void> = Promise.resolve();
  private readonly pending = new Set<string>();
  /** Manifest path -> the version and reason of its last refusal. */
  private readonly refused = new Map<string, { key: string; err: string }>();

  constructor(opts: StandaloneOptions) {
    this.tasksDir = resolve(opts.tasksDir);
    this.tree = opts.tree;
    this.log = opts.log;
    this.publish = opts.publish;
  }

  /** Starts watching; resolves once every manifest present at start has been applied or refused. */
  async start(): Promise<void> {
    const watcher = new DirWatcher((path, dir) => this.onEvent(path, dir), this.log);
    try {
      watcher.add(this.tasksDir, true);
    } catch (err) {
      throw new Error(`cannot watch the tasks dir ${this.tasksDir}: ${errorMessage(err)}`);
    }
    this.watcher = watcher;
    for (const name of await readdir(this.tasksDir)) {
      if (isManifestFile(name)) this.schedule(join(this.tasksDir, name));
    }
    await this.idle();
    this.log.info({ tasksDir: this.tasksDir, tasks: this.tree.taskNames().length }, 'standalone tasks loaded');
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    for (const s of this.seen.values()) clearTimeout(s.timer);
    this.seen.clear();
    await this.idle();
  }

  /** Resolves when every queued reload has run. */
  async idle(): Promise<void> {
    let q;
    do {
      q = this.queue;
      await q;
    } while (q !== this.queue);
  }

  private onEvent(path: string, dir: string): void {
    const targets = new Set<string>();
    if (path === dir) {
      // No entry name: anything in this folder may have changed.
      if (dir === this.tasksDir) void this.rescanTasksDir();
      for (const [src, users] of this.sourceUsers) if (dirname(src) === dir) for (const m of users) targets.add(m);
    } else {
      if (dir === this.tasksDir && isManifestFile(path)) targets.add(path);
      for (const m of this.sourceUsers.get(path) ?? []) targets.add(m);
    }
    for (const t of targets) this.schedule(t);
  }

  private async rescanTasksDir(): Promise<void> {
    const names = await readdir(this.tasksDir).catch(() => [] as string[]);
    const present = new Set(names.filter(isManifestFile).map((n) => join(this.tasksDir, n)));
    for (const p of present) this.schedule(p);
    for (const p of this.applied.keys()) if (!present.has(p)) this.schedule(p);
  }

  /** Coalesces bursts: a manifest already waiting in the queue is not queued twice. */
  private schedule(manifestPath: string): void {
    if (this.pending.has(manifestPath)) return;
    this.pending.add(manifestPath);
    this.queue = this.queue.then(async () => {
      this.pending.delete(manifestPath);
      try {
        await this.reload(manifestPath);
      } catch (err) {
        this.log.error({ file: manifestPath, err: errorMessage(err) }, 'manifest reload failed');
      }
      this.scheduleRecheck(manifestPath);
    });
  }

  /** Reloads again if the manifest or a source changed after we read them and no event said so. */
  private scheduleRecheck(manifestPath: string): void {
    const entry = this.seen.get(manifestPath);
    if (!entry || !this.watcher) return;
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      void fingerprint(this.watchedFiles(manifestPath)).then((now) => {
        if (this.watcher && this.seen.get(manifestPath) === entry && now !== entry.print) this.schedule(manifestPath);
      });
    }, RECHECK_MS);
    entry.timer.unref();
  }

  private watchedFiles(manifestPath: string): string[] {
    const files = [manifestPath];
    for (const [src, users] of this.sourceUsers) if (users.has(manifestPath)) files.push(src);
    return files;
  }

  private async reload(path: string): Promise<void> {
    // Fingerprint before reading: a change during the read shows up as a difference at the re-check.
    const entry = { print: await fingerprint([path]), timer: this.seen.get(path)?.timer };
    this.seen.set(path, entry);
    let text = await this.readManifest(path);
    if (text !== null && text.trim() === '') {
      await new Promise((r) => setTimeout(r, EMPTY_SETTLE_MS));
      entry.print = await fingerprint([path]);
      text = await this.readManifest(path);
    }
    if (text === null) return this.forget(path);
    const prev = this.applied.get(path);
    let manifest: Manifest;
    let data: Buffer[];
    try {
      if (text.trim() === '') throw new ManifestError('the file is empty');
      manifest = parseManifest(text, path);
      const owner = this.ownerOf(manifest.task);
      if (owner && owner !== path) throw new ManifestError(`task ${JSON.stringify(manifest.task)} is already defined by ${owner}`);
      this.track(path, manifest); // watch sources even when one is missing now, so that its arrival is seen
      entry.print = await fingerprint(this.watchedFiles(path));
      data = await readSources(manifest.files);
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      // One line per refusal: a re-read of the same bad version (a late or duplicate event) stays quiet.
      const key = `${entry.print}|${err.message}`;
      if (this.refused.get(path)?.key === key) return;
      this.refused.set(path, { key, err: err.message });
      refusedInputs.inc({ reason: 'manifest' });
      this.log.error({ file: path, err: err.message, kept: prev ? prev.manifest.task : null }, 'manifest refused');
      return;
    }
    const wasRefused = this.refused.get(path);
    this.refused.delete(path);
    if (wasRefused) this.log.info({ file: path, task: manifest.task, was: wasRefused.err }, 'manifest accepted again: the refusal is resolved');
    const notices: KernelNotice[] = [];
    if (prev && prev.manifest.task !== manifest.task) notices.push(...this.tree.removeTask(prev.manifest.task));
    notices.push(
      ...this.tree.setTask(manifest.task, {
        uid: manifest.uid,
        gid: manifest.gid,
        files: manifest.files.map((f, i) => ({ target: f.target, data: data[i]!, uid: f.uid, gid: f.gid, mode: f.mode })),
      }),
    );
    this.applied.set(path, { manifest });
    await this.publish(notices);
    if (notices.length === 0) this.log.debug({ file: path, task: manifest.task }, 'task unchanged');
    else {
      this.log.info({ file: path, task: manifest.task, files: manifest.files.length }, 'task applied');
      for (const f of unreadableFiles(manifest)) {
        const mode = f.mode.toString(8).padStart(4, '0');
        this.log.warn({ file: path, task: manifest.task, target: f.target, taskUid: manifest.uid, taskGid: manifest.gid, uid: f.uid, gid: f.gid, mode }, "the task's uid/gid cannot read this file");
      }
    }
  }

  /** The manifest's text, or null when it is gone. */
  private async readManifest(path: string): Promise<string | null> {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  private async forget(path: string): Promise<void> {
    const prev = this.applied.get(path);
    this.applied.delete(path);
    this.track(path, null);
    clearTimeout(this.seen.get(path)?.timer);
    this.seen.delete(path);
    this.refused.delete(path);
    if (!prev) return;
    await this.publish(this.tree.removeTask(prev.manifest.task));
    this.log.info({ file: path, task: prev.manifest.task }, 'task removed');
  }

  private ownerOf(task: string): string | undefined {
    for (const [p, a] of this.applied) if (a.manifest.task === task) return p;
    return undefined;
  }

  /** Points the source watch list at what this manifest uses now. */
  private track(manifestPath: string, manifest: Manifest | null): void {
    const wanted = new Set(manifest?.files.map((f) => f.source) ?? []);
    for (const [src, users] of this.sourceUsers) {
      if (users.has(manifestPath) && !wanted.has(src)) {
        users.delete(manifestPath);
        if (users.size === 0) {
          this.sourceUsers.delete(src);
          this.watcher?.remove(dirname(src));
        }
      }
    }
    for (const src of wanted) {
      let users = this.sourceUsers.get(src);
      if (!users) {
        users = new Set();
        this.sourceUsers.set(src, users);
        this.watcher?.add(dirname(src));
      }
      users.add(manifestPath);
    }
  }
}
