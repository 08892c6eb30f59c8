// Reading /proc/PID/stat: the fields the agent uses to find a task's processes and to tell a live pid from a reused one.
import { readFileSync } from 'node:fs';

export interface ProcStat {
  state: string;
  pgrp: number;
  session: number;
  /** starttime (field 22): clock ticks since boot; with the pid, names one process for the life of the host. */
  start: string;
}

/** Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses), or null if gone. */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state); pgrp is field 5, session 6, starttime 22.
  return { state: f[0] ?? '', pgrp: Number(f[2]), session: Number(f[3]), start: f[19] ?? '' };
}

/** The start time of a process, or null when it is gone (or has none). */
export function processStartTime(pid: number): number | null {
  const st = procStat(pid);
  const start = st && st.start !== '' ? Number(st.start) : NaN;
  return Number.isSafeInteger(start) ? start : null;
}
