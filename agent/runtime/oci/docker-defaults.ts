// Docker's defaults for a Linux container (moby v27.5.1 oci/defaults.go, oci/caps/defaults.go, daemon/oci_linux.go;
// docker-swarm-wave2.md §1.1-§1.5), as data: the bundle builder (bundle-config.ts) copies them into config.json.
import type { OciDeviceRule, OciMount } from './oci-spec.js';

/** caps.DefaultCapabilities(), in moby's order. /proc/self/status shows them as CapEff 00000000a80425fb. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** moby v27.5.1's masked paths, plus /proc/interrupts, which v28.0.2 added (GHSA-6fw5-f8r9-fgfm). */
export const MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** DefaultShmSize: 64 MiB (a Swarm ContainerSpec has no ShmSize). */
export const DEFAULT_SHM_SIZE = 67108864;

/** oci.DefaultLinuxSpec's mounts, with /dev/shm as the daemon sets it for IpcMode private. */
export function defaultMounts(): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${DEFAULT_SHM_SIZE}`] },
  ];
}

/**
 * moby's device cgroup rules: deny all, allow the standard character devices, deny fuse (/dev/fuse would let a task
 * serve a file system). runc appends its own allow list (ptmx, pts, tun, mknod) after these.
 */
export function defaultDeviceRules(): OciDeviceRule[] {
  const allow = (major: number, minor: number): OciDeviceRule => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [
    { allow: false, access: 'rwm' },
    allow(1, 5), // zero
    allow(1, 3), // null
    allow(1, 9), // urandom
    allow(1, 8), // random
    allow(5, 0), // tty
    allow(5, 1), // console
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }, // fuse
  ];
}

/** DEFAULT PATH the daemon puts first in every container's environment (container.CreateDaemonEnvironment). */
export const DOCKER_DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
