// The bundle's config.json for one task: Docker's defaults (docker-defaults.ts) plus the task's process, hostname and
// read-only binds of its secrets and configs. Pure: the unit test checks every field without running anything.
import { defaultDeviceRules, defaultMounts, DEFAULT_CAPABILITIES, MASKED_PATHS, READONLY_PATHS } from './docker-defaults.js';
import type { OciMount, OciSpec } from './oci-spec.js';
import { taskSeccomp } from './seccomp.js';

/** A file or folder bound read-only into the container (a secret, a config, the task's secrets folder). */
export interface ReadOnlyBind {
  /** Host path (on the agent's secrets mount). */
  source: string;
  /** Path inside the container, already resolved inside its root (no symlink components). */
  destination: string;
}

export interface BundleInput {
  /** The container's root, relative to the bundle (the overlay's mount point). */
  rootfs: string;
  args: string[];
  /** The process environment, complete (container-env.ts). */
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  hostname: string;
  /** Binds in mount order: a parent's bind before binds below it. */
  binds: ReadOnlyBind[];
  /** cgroup path (cgroup v1: the same path under each controller). */
  cgroupsPath: string;
  /** Node's process.arch, for the seccomp filter's architectures (default: this process's). */
  arch?: string;
}

/** Options of every bind: read-only, and nothing on it runs, is a device or gains privileges. */
export const BIND_OPTIONS: readonly string[] = ['bind', 'ro', 'nosuid', 'nodev', 'noexec', 'rprivate'];

export function buildBundleConfig(input: BundleInput): OciSpec {
  const caps = [...DEFAULT_CAPABILITIES];
  const binds: OciMount[] = input.binds.map((b) => ({ destination: b.destination, type: 'bind', source: b.source, options: [...BIND_OPTIONS] }));
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: input.uid, gid: input.gid, ...(input.additionalGids.length > 0 ? { additionalGids: [...input.additionalGids] } : {}) },
      args: [...input.args],
      env: [...input.env],
      cwd: input.cwd,
      // Docker: the 14 defaults in bounding, permitted and effective; inheritable and ambient empty.
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
      // Docker leaves no_new_privs off unless asked; a task here always gets it (setuid binaries gain nothing).
      noNewPrivileges: true,
    },
    root: { path: input.rootfs, readonly: false },
    hostname: input.hostname,
    mounts: [...defaultMounts(), ...binds],
    linux: {
      // PID, mount, UTS and IPC of its own; no network namespace (host networking); cgroup namespace: host, as
      // Docker on cgroup v1.
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
      resources: { devices: defaultDeviceRules() },
      cgroupsPath: input.cgroupsPath,
      seccomp: taskSeccomp(input.arch),
    },
  };
}
