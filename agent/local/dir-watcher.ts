// Watches folders, not files: one inotify watch per folder (fs.watch), whatever the number of files in it.
// chokidar puts a watcher on every file, which cost ~7 KiB of RSS per source file (about +100 MiB for 10,000
// secrets, measured by bench/agent-bench); events here only say "look at this path again", and callers re-check
// what they read, so a coalesced or dropped event costs nothing but a re-read.
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';

/** Called with the changed path, or with the folder itself when the kernel did not say which entry changed. */
export type ChangeListener = (path: string, dir: string) => void;

const RETRY_MS = 1000;

interface Watched {
  refs: number;
  watcher: FSWatcher | null;
  retry?: NodeJS.Timeout;
}

export class DirWatcher {
  private readonly dirs = new Map<string, Watched>();
  private closed = false;

  constructor(
    private readonly onChange: ChangeListener,
    private readonly log: Logger,
  ) {}

  /** Starts watching dir (counted: each add needs a remove). Throws if it cannot be watched now and `must`. */
  add(dir: string, must = false): void {
    const w = this.dirs.get(dir);
    if (w) {
      w.refs++;
      return;
    }
    const entry: Watched = { refs: 1, watcher: null };
    this.dirs.set(dir, entry);
    try {
      this.open(dir, entry);
    } catch (err) {
      if (must) {
        this.dirs.delete(dir);
        throw err;
      }
      this.retryLater(dir, entry);
    }
  }

  remove(dir: string): void {
    const w = this.dirs.get(dir);
    if (!w || --w.refs > 0) return;
    w.watcher?.close();
    clearTimeout(w.retry);
    this.dirs.delete(dir);
  }

  close(): void {
    this.closed = true;
    for (const w of this.dirs.values()) {
      w.watcher?.close();
      clearTimeout(w.retry);
    }
    this.dirs.clear();
  }

  private open(dir: string, entry: Watched): void {
    const watcher = watch(dir, { persistent: true }, (_event, name) => {
      this.onChange(name ? join(dir, name.toString()) : dir, dir);
    });
    watcher.on('error', (err) => {
      // The folder went away (or was replaced): watch again once it is back, and say something changed.
      this.log.warn({ dir, err: err.message }, 'folder watch lost; retrying');
      watcher.close();
      entry.watcher = null;
      this.onChange(dir, dir);
      this.retryLater(dir, entry);
    });
    entry.watcher = watcher;
  }

  private retryLater(dir: string, entry: Watched): void {
    if (this.closed) return;
    entry.retry = setTimeout(() => {
      if (this.closed || this.dirs.get(dir) !== entry) return;
      try {
        this.open(dir, entry);
        this.onChange(dir, dir); // it is back: whatever is in it may be new
      } catch {
        this.retryLater(dir, entry);
      }
    }, RETRY_MS);
    entry.retry.unref();
  }
}
