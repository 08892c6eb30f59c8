// Why a test that needs the kernel cannot run here, or false when it can. Tests skip with this reason, loudly.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function fuseSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (mounting FUSE, allow_other, setpriv to other uids)';
  if (!existsSync('/dev/fuse')) return 'needs /dev/fuse (the FUSE kernel module)';
  for (const cmd of ['mount', 'umount', 'findmnt', 'setpriv']) {
    if (!has(cmd)) return `needs ${cmd} (Debian packages mount/util-linux; run make setup)`;
  }
  return false;
}

/** tap's skip option: a reason string prints as the skip message. */
export function fuseSkip(): { skip: string } | Record<string, never> {
  const reason = fuseSkipReason();
  if (reason) process.stderr.write(`# SKIP FUSE tests: ${reason}\n`);
  return reason ? { skip: reason } : {};
}

/**
 * argv to start `runsecrets ARGS` as a product process from a test. tap's process hooks re-add their loaders to
 * every node child's NODE_OPTIONS (and they break the extensionless ESM bin), so start it through env -u.
 */
export function runsecretsArgv(bin: string, args: string[]): [string, string[]] {
  return ['env', ['-u', 'NODE_OPTIONS', process.execPath, bin, ...args]];
}
