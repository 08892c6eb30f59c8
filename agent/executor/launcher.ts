// The launcher's protocol: launcher.sh (shipped next to this module) runs as PID 1 of each task's namespaces, sets
// up its mounts and starts it; this module finds the script and turns a launch into its positional arguments.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Identity } from './spec.js';

/**
 * The script's path: next to this module when run from the sources, or in the sources beside dist/ when run from
 * a build (tsc does not copy it; `make build` does).
 */
export function launcherScript(): string {
  const candidates = [new URL('./launcher.sh', import.meta.url), new URL('../../../agent/executor/launcher.sh', import.meta.url)];
  for (const u of candidates) {
    const p = fileURLToPath(u);
    if (existsSync(p)) return p;
  }
  throw new Error(`the task launcher is missing: looked for ${candidates.map((u) => fileURLToPath(u)).join(' and ')}`);
}

/** Docker's default capability set (moby oci/caps/defaults.go), which a task run as root keeps. */
export const DOCKER_DEFAULT_CAPS = [
  'chown', 'dac_override', 'fsetid', 'fowner', 'mknod', 'net_raw', 'setgid', 'setuid', 'setfcap', 'setpcap',
  'net_bind_service', 'sys_chroot', 'kill', 'audit_write',
] as const;

/** Docker's masked paths (moby v28: /proc/interrupts included), hidden from every task. */
export const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
] as const;

/** Docker's read-only paths. */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'] as const;

/**
 * setpriv's --bounding-set for a task's user: Docker's set for root, nothing for any other user (who has no
 * capability anyway; with no_new_privs a setuid or file-capability program cannot give it any either).
 */
export function boundingSet(uid: number): string {
  return uid === 0 ? ['-all', ...DOCKER_DEFAULT_CAPS.map((c) => `+${c}`)].join(',') : '-all';
}

/** The container-like view every task gets after its own mounts: a read-only /sys, Docker's masks. */
export function containerViewOps(): LauncherOp[] {
  return [
    { op: 'sysfs' },
    ...MASKED_PATHS.map((path) => ({ op: 'mask' as const, path })),
    ...READONLY_PATHS.map((path) => ({ op: 'readonly' as const, path })),
  ];
}

export type LauncherOp =
  | { op: 'need-dir'; parent: string; target: string }
  | { op: 'overlay'; parent: string; submounts: string[] }
  | { op: 'touch'; path: string }
  | { op: 'mkdir'; path: string }
  /** source: path relative to the secrets folder, "." for the folder itself. */
  | { op: 'bind'; source: string; target: string }
  /** Opens the task's files folder (the sources of bind-file), before anything is mounted. */
  | { op: 'files'; path: string }
  /** source: path relative to the files folder. */
  | { op: 'bind-file'; source: string; target: string }
  | { op: 'hide'; mount: string }
  /** Unmount, inside the namespace, every mount of this file system type but the one at except ("" for none). */
  | { op: 'hide-all'; fstype: string; except: string }
  /** A fresh read-only sysfs on /sys. */
  | { op: 'sysfs' }
  /** An empty read-only tmpfs on a folder, /dev/null on a file (skipped when missing). */
  | { op: 'mask'; path: string }
  | { op: 'readonly'; path: string }
  /** The hostname in the task's own UTS namespace. */
  | { op: 'hostname'; name: string };

export interface LaunchArgs {
  secretsDir: string;
  dir: string;
  uid: number;
  gid: number;
  ops: LauncherOp[];
  env: string[];
  argv: string[];
}

/** The positional arguments after `bash SCRIPT`. */
export function launcherArgs(a: LaunchArgs): string[] {
  const out = [a.secretsDir, a.dir, String(a.uid), String(a.gid), boundingSet(a.uid)];
  for (const o of a.ops) {
    switch (o.op) {
      case 'need-dir':
        out.push(o.op, o.parent, o.target);
        break;
      case 'overlay':
        out.push(o.op, o.parent, String(o.submounts.length), ...o.submounts);
        break;
      case 'touch':
      case 'mkdir':
        out.push(o.op, o.path);
        break;
      case 'bind':
      case 'bind-file':
        out.push(o.op, o.source, o.target);
        break;
      case 'files':
        out.push(o.op, o.path);
        break;
      case 'hide':
        out.push(o.op, o.mount);
        break;
      case 'hide-all':
        out.push(o.op, o.fstype, o.except);
        break;
      case 'sysfs':
        out.push(o.op);
        break;
      case 'mask':
      case 'readonly':
        out.push(o.op, o.path);
        break;
      case 'hostname':
        out.push(o.op, o.name);
        break;
    }
  }
  out.push('exec', ...a.env, ...a.argv);
  return out;
}

/** setpriv's words that start a task's process as who: as the launcher does (Docker's capabilities for root). */
export function privilegeDrop(setpriv: string, who: Identity): string[] {
  return [
    setpriv, `--reuid=${who.uid}`, `--regid=${who.gid}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all',
    `--bounding-set=${boundingSet(who.uid)}`, '--',
  ];
}
