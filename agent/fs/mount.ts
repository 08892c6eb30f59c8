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

/** Where the kernel lists FUSE connections (fusectl); each has an "abort" file. */
export const FUSE_CONNECTIONS = '/sys/fs/fuse/connections';

/**
 * Shell words that abort FUSE connection $1: through the host's fusectl when it is mounted, else through a fusectl
 * mounted for the moment in a private mount namespace (so that the host's mounts are left as they are).
 */
const ABORT_SCRIPT = [
  `a=${FUSE_CONNECTIONS}/$1/abort`,
  'if [ -w "$a" ]; then echo 1 > "$a"',
  `else exec unshare --mount --propagation private sh -c 'mount -t fusectl fusectl ${FUSE_CONNECTIONS} && echo 1 > ${FUSE_CONNECTIONS}/$1/abort' sh "$1"`,
  'fi',
].join('\n');

/**
 * Aborts our FUSE connection (majMin of the mount: the connection is named by its minor): every request waiting
 * on it fails at once and nothing can wait on it again. Needed when a mount namespace of another process (a task
 * that has not exited yet) still holds the mount after our unmount: the connection would otherwise live on and
 * keep our /dev/fuse reads, and whoever reads the mount there, waiting. Resolves true when the abort was written.
 */
export async function abortFuseConnection(majMin: string): Promise<boolean> {
  const minor = majMin.split(':')[1];
  if (!minor || !/^\d+$/.test(minor)) return false;
  try {
    await execFileP('sh', ['-c', ABORT_SCRIPT, 'runsecrets-abort', minor]);
    return true;
  } catch {
    return false; // gone already, or no fusectl in this kernel
  }
}

/**
 * A small watcher process holding only a pipe from us (our fds are close-on-exec, so never /dev/fuse): when we
 * die, even by kill -9, its stdin ends and, if the mount is still ours (same major:minor), it aborts the connection
 * (so that no reader in another mount namespace can wait on it) and lazily unmounts it.
 */
export function startUnmountWatchdog(mountPoint: string, majMin: string): ChildProcess {
  const script = [
    'cat >/dev/null', // returns when the agent's end of the pipe closes
    'now=$(findmnt -n -o MAJ:MIN --mountpoint "$1" 2>/dev/null | tail -n 1 | tr -d " ")',
    '[ "$now" = "$2" ] || exit 0',
    // Abort first, while the mount (so the connection number) is surely still ours; then detach it.
    `(set -- "\${2#*:}"\n${ABORT_SCRIPT}\n) >/dev/null 2>&1`,
    'exec umount -l "$1"',
  ].join('\n');
  const child = spawn('sh', ['-c', script, 'runsecrets-unmount-watchdog', mountPoint, majMin], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true, // its own session: a signal to the agent's group does not take it along
  });
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return child;
}
