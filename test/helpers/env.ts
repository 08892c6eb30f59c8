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

/**
 * Why a test that needs these programs cannot run here (the first one missing), or false when all are on PATH.
 * The names are Debian's commands; the packages are in the Makefile's DEB_PACKAGES (make setup).
 */
export function toolSkipReason(tools: string[]): string | false {
  for (const t of tools) {
    if (!/^[A-Za-z0-9._-]+$/.test(t)) throw new Error(`toolSkipReason: not a command name: ${t}`);
    if (!has(t)) return `needs ${t} on PATH (run make setup: Debian packages runc skopeo umoci docker-registry busybox-static apache2-utils etcd-server)`;
  }
  return false;
}

/** tap's skip option for tests that need these programs. */
export function toolSkip(tools: string[]): { skip: string } | Record<string, never> {
  const reason = toolSkipReason(tools);
  if (reason) process.stderr.write(`# SKIP: ${reason}\n`);
  return reason ? { skip: reason } : {};
}
