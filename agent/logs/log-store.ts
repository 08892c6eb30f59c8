// Each task's stdout and stderr, kept by the agent as Docker's json-file driver keeps a container's: one JSON line
// per output line under STATE/logs/<task ID>/, rotated at a size cap (max-size, max-file). Task output is not
// secret material (a task that prints its secret puts it in its log, as with Docker: docs/SECURITY.md).
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { nowNs } from '../../shared/time.js';
import { decodeEntry, encodeEntry, type LogEntry, type LogStream } from './entry.js';
import { LogFile, logFiles, type Rotation } from './log-file.js';

/** Defaults (docs/OPERATIONS.md): 10 MiB per file, 3 files: at most 30 MiB per task. */
export const DEFAULT_ROTATION: Rotation = { maxSize: 10 * 1024 * 1024, maxFile: 3 };
/** A line longer than this is stored in pieces (Docker's copier buffers 16 KiB lines the same way). */
export const MAX_LINE_BYTES = 16 * 1024;
/** A line without its newline yet is stored once no more output came for this long (a prompt, a last line). */
const PARTIAL_FLUSH_MS = 200;
const TASK_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** What the worker calls with a task's output. */
export interface TaskLogSink {
  write(taskId: string, stream: LogStream, chunk: Buffer): void;
  remove(taskId: string): void;
}

export interface ReadOptions {
  /** The last N lines only (after since/until). */
  tail?: number;
  sinceNs?: bigint | null;
  untilNs?: bigint | null;
}

interface TaskLog {
  file: LogFile;
  partial: Record<LogStream, Buffer[]>;
  timer: NodeJS.Timeout | null;
}

export interface LogStoreOptions {
  /** The folder of the logs (STATE/logs); made 0700. */
  dir: string;
  rotation?: Partial<Rotation>;
  log?: Logger;
}

export class LogStore implements TaskLogSink {
  readonly dir: string;
  private readonly rotation: Rotation;
  private readonly tasks = new Map<string, TaskLog>();
  private readonly events = new EventEmitter();
  private readonly log: Logger | undefined;

  constructor(o: LogStoreOptions) {
    this.dir = o.dir;
    this.rotation = { ...DEFAULT_ROTATION, ...o.rotation };
    if (!(this.rotation.maxSize > 0) || !(this.rotation.maxFile >= 1)) throw new Error(`invalid log rotation: max-size ${this.rotation.maxSize}, max-file ${this.rotation.maxFile}`);
    this.log = o.log;
    this.events.setMaxListeners(0);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  write(taskId: string, stream: LogStream, chunk: Buffer): void {
    const t = this.open(taskId);
    if (!t) return;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      this.emitLine(taskId, t, stream, Buffer.concat([...t.partial[stream], chunk.subarray(start, nl + 1)]));
      t.partial[stream] = [];
      start = nl + 1;
    }
    if (start < chunk.length) {
      t.partial[stream].push(Buffer.from(chunk.subarray(start)));
      let held = t.partial[stream].reduce((n, b) => n + b.length, 0);
      while (held >= MAX_LINE_BYTES) {
        const all = Buffer.concat(t.partial[stream]);
        this.emitLine(taskId, t, stream, all.subarray(0, MAX_LINE_BYTES));
        t.partial[stream] = all.length > MAX_LINE_BYTES ? [all.subarray(MAX_LINE_BYTES)] : [];
        held -= MAX_LINE_BYTES;
      }
      if (held > 0 && !t.timer) {
        t.timer = setTimeout(() => {
          t.timer = null;
          this.flushPartial(taskId, t);
        }, PARTIAL_FLUSH_MS);
        t.timer.unref();
      }
    }
  }

  /** Deletes the task's log (the task was removed, as `docker rm` deletes a container's log). */
  remove(taskId: string): void {
    const t = this.tasks.get(taskId);
    if (t) {
      if (t.timer) clearTimeout(t.timer);
      t.file.close();
      this.tasks.delete(taskId);
    }
    if (TASK_ID_RE.test(taskId)) rmSync(join(this.dir, taskId), { recursive: true, force: true });
    this.events.emit(`removed:${taskId}`);
  }

  /** Deletes the logs of tasks not kept (left by an earlier run of the agent for tasks it no longer has). */
  prune(keep: (taskId: string) => boolean): string[] {
    const gone: string[] = [];
    for (const d of readdirSync(this.dir)) {
      if (!TASK_ID_RE.test(d) || keep(d)) continue;
      this.remove(d);
      gone.push(d);
    }
    return gone;
  }

  /** The stored lines, oldest first, filtered. Synchronous: call subscribe() in the same tick to follow on. */
  read(taskId: string, o: ReadOptions = {}): LogEntry[] {
    if (!TASK_ID_RE.test(taskId)) return [];
    const files = logFiles(this.pathOf(taskId), this.rotation.maxFile);
    const out: LogEntry[] = [];
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue; // rotated away meanwhile (another reader's view) or never written
      }
      for (const line of text.split('\n')) {
        if (line === '') continue;
        const e = decodeEntry(line);
        if (!e) continue;
        if (o.sinceNs != null && e.timeNs < o.sinceNs) continue;
        if (o.untilNs != null && e.timeNs > o.untilNs) continue;
        out.push(e);
      }
    }
    return o.tail !== undefined && o.tail >= 0 ? out.slice(Math.max(0, out.length - o.tail)) : out;
  }

  /** New lines of the task as they are stored; onRemoved when its log is deleted. Returns the unsubscribe. */
  subscribe(taskId: string, onLine: (e: LogEntry) => void, onRemoved?: () => void): () => void {
    this.events.on(`line:${taskId}`, onLine);
    if (onRemoved) this.events.on(`removed:${taskId}`, onRemoved);
    return () => {
      this.events.off(`line:${taskId}`, onLine);
      if (onRemoved) this.events.off(`removed:${taskId}`, onRemoved);
    };
  }

  /** Stores the lines still held without their newline (the task ended). */
  flush(taskId: string): void {
    const t = this.tasks.get(taskId);
    if (t) this.flushPartial(taskId, t);
  }

  close(): void {
    for (const [id, t] of this.tasks) {
      this.flushPartial(id, t);
      t.file.close();
    }
    this.tasks.clear();
  }

  private pathOf(taskId: string): string {
    return join(this.dir, taskId, `${taskId}-json.log`);
  }

  private open(taskId: string): TaskLog | null {
    const have = this.tasks.get(taskId);
    if (have) return have;
    if (!TASK_ID_RE.test(taskId)) {
      this.log?.warn({ task: taskId.slice(0, 64) }, 'output of a task with an invalid ID: not logged');
      return null;
    }
    try {
      mkdirSync(join(this.dir, taskId), { recursive: true, mode: 0o700 });
      const t: TaskLog = { file: new LogFile(this.pathOf(taskId), this.rotation), partial: { stdout: [], stderr: [] }, timer: null };
      this.tasks.set(taskId, t);
      return t;
    } catch (err) {
      this.log?.error({ task: taskId, err: errorMessage(err) }, 'cannot open the task log');
      return null;
    }
  }

  private flushPartial(taskId: string, t: TaskLog): void {
    if (t.timer) clearTimeout(t.timer);
    t.timer = null;
    for (const stream of ['stdout', 'stderr'] as const) {
      if (t.partial[stream].length === 0) continue;
      const line = Buffer.concat(t.partial[stream]);
      t.partial[stream] = [];
      this.emitLine(taskId, t, stream, line);
    }
  }

  private emitLine(taskId: string, t: TaskLog, stream: LogStream, line: Buffer): void {
    const e: LogEntry = { stream, timeNs: nowNs(), line };
    try {
      t.file.append(encodeEntry(e));
    } catch (err) {
      this.log?.error({ task: taskId, err: errorMessage(err) }, 'cannot write the task log');
    }
    this.events.emit(`line:${taskId}`, e);
  }
}
