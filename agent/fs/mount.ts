// Mounting our FUSE connection and making sure it never outlives the agent.
// mount(8) with -i calls mount(2) directly (no helper): the kernel takes /dev/fuse from the fd we pass as fd 3.
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ChildProcess } from 'node:child_process';

const execFileP = promisify(execFile);

export const FS_TYPE = 'fuse.runsecrets';

/** Mount flags fixed by the security model: read-only, no setuid, no devices, no exec; kernel-checked access. */
export function mountOptions(uid = 0, gid = 0): string {
  return [
    'ro', 'nosuid', 'nodev', 'noexec',
    'fd=3', 'rootmode=40000', `user_id=${uid}`, `group_id=${gid}`,
    'allow_other', // tasks run as other users...
    'default_permissions', // ...and the kernel enforces each file's owner and mode for them
  ].join(',');
}

export function mountFuse(mountPoint: string, fuseFd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mount', ['-i', '-n', '-t', FS_TYPE, '-o', mountOptions(), 'runsecrets', mountPoint], {
      stdio: ['ignore', 'ignore', 'pipe', fuseFd],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (err) => reject(new Error(`cannot run mount(8): ${err.message}`)));
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`mounting ${mountPoint} failed (mount exit ${code}): ${stderr.trim()}`)),
    );
  });
}

/** Unmounts; a busy mount (a reader's cwd inside) is detached lazily instead. */
export async function unmountFuse(mountPoint: string): Promise<void> {
  try {
    await execFileP('umount', [mountPoint]);
  } catch {
    await execFileP('umount', ['-l', mountPoint]);
  }
}

/**
 * A small watcher process holding only a pipe from us (our fds are close-on-exec, so never /dev/fuse): when we
 * die, even by kill -9, its stdin ends and it lazily unmounts our mount, if it is still ours (same major:minor).
 */
export function startUnmountWatchdog(mountPoint: string, majMin: string): ChildProcess {
  const script = [
    'cat >/dev/null', // returns when the agent's end of the pipe closes
    'now=$(findmnt -n -o MAJ:MIN --mountpoint "$1" 2>/dev/null | tail -n 1 | tr -d " ")',
    '[ "$now" = "$2" ] && exec umount -l "$1"',
    'exit 0',
  ].join('\n');
  const child = spawn('sh', ['-c', script, 'runsecrets-unmount-watchdog', mountPoint, majMin], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true, // its own session: a signal to the agent's group does not take it along
  });
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return child;
}
