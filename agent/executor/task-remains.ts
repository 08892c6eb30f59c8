// What a task leaves behind when its main process ends. Docker runs a task in its own PID namespace, where the
// kernel kills every other process once PID 1 exits; our tasks have no PID namespace, so a `sh -c '…; sleep 1d'`
// stopped with SIGTERM left its `sleep` running, reparented to init, in a namespace whose secrets were gone. The
// agent does what the kernel does for Docker: every process of the task's process group or session, or in its
// private mount namespace (which a daemon that called setsid keeps, and `task exec` enters), gets SIGKILL.
import { readdir, readlink } from 'node:fs/promises';
import { readlinkSync } from 'node:fs';
import { procStat } from './proc-stat.js';

/** The task's mount namespace (as /proc/PID/ns/mnt names it), or null when it is not one of its own. */
export function taskMountNs(pid: number): string | null {
  try {
    const ns = readlinkSync(`/proc/${pid}/ns/mnt`);
    return ns === readlinkSync('/proc/self/ns/mnt') ? null : ns; // still the agent's: not the task's yet
  } catch {
    return null;
  }
}

/** SIGKILLs what is left of a task whose main process (leader of its group and session) has ended; the count. */
export async function killTaskRemains(leader: number, mountNs: string | null): Promise<number> {
  try {
    process.kill(-leader, 'SIGKILL'); // the group at once: a shell's children, pipelines, background jobs
  } catch {
    /* no member left */
  }
  let killed = 0;
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return killed;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const st = procStat(pid);
    if (!st || st.state === 'Z') continue;
    let ours = st.pgrp === leader || st.session === leader;
    if (!ours && mountNs !== null) ours = (await readlink(`/proc/${pid}/ns/mnt`).catch(() => '')) === mountNs;
    if (!ours) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      /* gone meanwhile */
    }
  }
  return killed;
}
