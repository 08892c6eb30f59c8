// What survives a kill -9 of the agent: the task processes (each leads its own session and process group). This
// file keeps, per task the agent has launched and not yet seen end, its pid and start time (no secrets, no argv),
// so that the next agent on the same state dir can kill that previous life's processes before it starts anything:
// left running with a dead mount, they would be duplicates of the tasks the manager moves or restarts.
// The start time (clock ticks since boot, /proc/PID/stat) and the boot ID guard against a reused pid.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { procStat } from './proc-stat.js';

export const TASK_RECORDS_FILE = 'tasks.pids.json';

export interface TaskRecord {
  id: string;
  pid: number; // leads its process group and session (spawned detached)
  start: string; // /proc/PID/stat starttime
  boot: string;
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** The agent's task records in its state dir: added at launch, dropped once the task's end is settled. */
export class TaskRecords {
  private readonly path: string;
  private readonly records = new Map<string, TaskRecord>();
  private readonly boot = bootId();

  constructor(stateDir: string) {
    this.path = join(stateDir, TASK_RECORDS_FILE);
    if (!existsSync(this.path)) return;
    try {
      for (const r of JSON.parse(readFileSync(this.path, 'utf8')) as TaskRecord[]) this.records.set(r.id, r);
    } catch {
      // A record file is written atomically, so it cannot be half-written; an unreadable one is not ours to trust.
    }
  }

  /** Task IDs recorded by an earlier life of the agent (call before add()). */
  ids(): string[] {
    return [...this.records.keys()];
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  add(id: string, pid: number): void {
    const st = procStat(pid);
    this.records.set(id, { id, pid, start: st?.start ?? '', boot: this.boot });
    this.save();
  }

  remove(id: string): void {
    if (this.records.delete(id)) this.save();
  }

  private save(): void {
    writeAtomic(this.path, JSON.stringify([...this.records.values()]));
  }

  /**
   * SIGKILLs every process of the recorded tasks' process groups and sessions that is still alive, and waits (at
   * most timeoutMs) until they are gone. A record whose pid now names another process (another start time, or
   * another boot) is skipped; while any member of a group lives, the kernel does not reuse its ID for a new pid.
   */
  async killPreviousLife(log: Logger, timeoutMs = 10_000): Promise<{ killed: number; left: number }> {
    const groups = new Set<number>();
    for (const r of this.records.values()) {
      if (r.boot !== this.boot) continue;
      const leader = procStat(r.pid);
      if (leader && leader.start !== r.start) continue; // pid reused by an unrelated process
      groups.add(r.pid);
    }
    if (groups.size === 0) return { killed: 0, left: 0 };
    const members = (): number[] => {
      const out: number[] = [];
      for (const name of readdirSync('/proc')) {
        if (!/^\d+$/.test(name)) continue;
        const st = procStat(Number(name));
        if (st && st.state !== 'Z' && (groups.has(st.pgrp) || groups.has(st.session))) out.push(Number(name));
      }
      return out;
    };
    let first = members();
    const killed = first.length;
    const deadline = Date.now() + timeoutMs;
    while (first.length > 0 && Date.now() < deadline) {
      for (const pid of first) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
      await new Promise((r) => setTimeout(r, 20));
      first = members();
    }
    if (killed > 0) log.warn({ tasks: groups.size, processes: killed, left: first.length }, 'killed the task processes left by the previous agent');
    return { killed, left: first.length };
  }
}
