// systemd readiness (Type=notify). The protocol is one datagram "READY=1" on the Unix socket in $NOTIFY_SOCKET;
// Node has no Unix datagram sockets and a native module only for this is not worth it, so the message goes through
// `systemd-notify --ready --pid=OURS`, a child process. Run by root (the agent), systemd-notify sends our pid as its
// SCM_CREDENTIALS, so the unit can keep NotifyAccess=main; without CAP_SYS_ADMIN (the manager's empty capability
// set) the kernel refuses that, systemd-notify sends with its own pid, and the unit needs NotifyAccess=all.
// systemd-notify (systemd >= 246) waits for systemd to have taken the message (a barrier).
import { execFile } from 'node:child_process';
import type { Logger } from './log.js';
import { errorMessage } from './errors.js';

/**
 * Tells systemd this daemon is ready, once, when started by systemd (NOTIFY_SOCKET set); a no-op otherwise.
 * A failure is logged and never fatal: without the message systemd times the start out, which says more.
 */
export function notifyReady(log: Logger, status: string): Promise<void> {
  const socket = process.env.NOTIFY_SOCKET;
  if (!socket) return Promise.resolve();
  return new Promise((resolve) => {
    execFile('systemd-notify', ['--ready', `--pid=${process.pid}`, `--status=${status}`], { timeout: 10_000 }, (err, _out, stderr) => {
      if (err) log.error({ err: errorMessage(err), stderr: stderr.trim(), socket }, 'systemd-notify --ready failed: systemd will time the start out');
      else log.info({ socket }, 'readiness sent to systemd');
      resolve();
    });
  });
}
