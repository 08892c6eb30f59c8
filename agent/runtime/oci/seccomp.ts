// A seccomp filter for every task: the system calls Docker's default profile (moby profiles/seccomp/default.json)
// refuses to a container with Docker's default capabilities, written as a deny list (everything else allowed) so that
// it stays short: new namespaces (unshare, setns, clone/clone3 with namespace flags: no user namespace to regain
// capabilities in), the kernel keyring, bpf, perf events, userfaultfd, io_uring, kernel modules, kexec, mount APIs,
// handles, clock/time setting, swap, reboot and other administration calls. Most of these also need a capability the
// task lacks; the filter refuses the rest (those a process without capabilities may call) and is a second wall for
// all of them.
import type { OciSeccomp, OciSyscallRule } from './oci-spec.js';

const EPERM = 1;
const ENOSYS = 38;

/** Refused with EPERM. */
export const DENIED_SYSCALLS: readonly string[] = [
  'acct', 'add_key', 'bpf', 'clock_adjtime', 'clock_settime', 'create_module', 'delete_module', 'finit_module',
  'fsconfig', 'fsmount', 'fsopen', 'fspick', 'get_kernel_syms', 'get_mempolicy', 'init_module', 'io_uring_enter',
  'io_uring_register', 'io_uring_setup', 'ioperm', 'iopl', 'kcmp', 'kexec_file_load', 'kexec_load', 'keyctl',
  'lookup_dcookie', 'mbind', 'mount', 'mount_setattr', 'move_mount', 'move_pages', 'name_to_handle_at', 'nfsservctl',
  'open_by_handle_at', 'open_tree', 'perf_event_open', 'pivot_root', 'process_vm_readv', 'process_vm_writev',
  'query_module', 'quotactl', 'quotactl_fd', 'reboot', 'request_key', 'set_mempolicy', 'setns', 'settimeofday',
  'stime', 'swapoff', 'swapon', 'sysfs', '_sysctl', 'umount', 'umount2', 'unshare', 'uselib', 'userfaultfd', 'ustat',
  'vm86', 'vm86old',
];

/** clone(2) flags that make a namespace: clone is refused when its flags (argument 0 on x86 and arm) hold one. */
export const CLONE_NAMESPACE_FLAGS: readonly number[] = [
  0x00020000, // CLONE_NEWNS
  0x02000000, // CLONE_NEWCGROUP
  0x04000000, // CLONE_NEWUTS
  0x08000000, // CLONE_NEWIPC
  0x10000000, // CLONE_NEWUSER
  0x20000000, // CLONE_NEWPID
  0x40000000, // CLONE_NEWNET
];

function architectures(arch: string): string[] {
  if (arch === 'x64') return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
  if (arch === 'arm64') return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
  return []; // the native architecture only
}

export function taskSeccomp(arch: string = process.arch): OciSeccomp {
  const syscalls: OciSyscallRule[] = [
    { names: [...DENIED_SYSCALLS], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
    // clone3 passes its flags in memory, out of a filter's reach: ENOSYS, as Docker, makes libc fall back to clone.
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    // One rule per flag: the conditions of one rule must all hold, and any one flag is enough to refuse.
    ...CLONE_NAMESPACE_FLAGS.map((flag): OciSyscallRule => ({
      names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM,
      args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }],
    })),
  ];
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: architectures(arch), syscalls };
}
