// Picks the task runtime by name: `agent run --runtime oci|process`, default oci where runc is installed.
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import type { RegistryRules } from '../../shared/registry-rules.js';
import { DEFAULT_PATH } from '../executor/spec.js';
import { ProcessRuntime } from './process.js';
import { findProgram } from '../find-program.js';
import { OciRuntime } from './oci/index.js';
import type { RuntimeName, TaskRuntime } from './runtime.js';

export const RUNTIME_NAMES: readonly RuntimeName[] = ['oci', 'process'];

export interface RuntimeChoice {
  /** Absent: oci when runc is on PATH, else process. */
  name?: RuntimeName;
  stateDir: string;
  log: Logger;
  /** Folders every task sees empty (the agent's state dir). */
  hiddenPaths: string[];
  /** --insecure-registry / --registry-mirror, for the OCI runtime's image store; absent: NO_RULES. */
  registry?: RegistryRules;
}

export function isRuntimeName(s: string): s is RuntimeName {
  return (RUNTIME_NAMES as readonly string[]).includes(s);
}

/** runc's path on the agent's fixed PATH (and the agent's own), or null. */
export function findRunc(path = `${DEFAULT_PATH}:${process.env.PATH ?? ''}`): string | null {
  return findProgram('runc', path);
}

/** The OCI runtime: containers (runc) from images, its state under STATE/oci. */
const ociRuntime: ((c: RuntimeChoice) => TaskRuntime) | null = (c) =>
  new OciRuntime({ stateDir: join(c.stateDir, 'oci'), log: c.log.child({ part: 'oci' }), ...(c.registry ? { rules: c.registry } : {}) });

/** oci where runc is installed (and the OCI runtime is built in), else process. */
export function defaultRuntimeName(): RuntimeName {
  return ociRuntime !== null && findRunc() !== null ? 'oci' : 'process';
}

export function createRuntime(c: RuntimeChoice): TaskRuntime {
  const name = c.name ?? defaultRuntimeName();
  c.log.info({ runtime: name, chosen: c.name !== undefined ? 'by --runtime' : 'default (oci where runc is installed)' }, 'task runtime');
  switch (name) {
    case 'process':
      c.log.warn('process runtime: tasks share the host\'s file system, so a task without --user can read and change host files (Docker\'s capabilities include CAP_DAC_OVERRIDE); give services a --user, or install runc for containers (docs/SECURITY.md)');
      return new ProcessRuntime({ logger: c.log.child({ part: 'executor' }), hiddenPaths: c.hiddenPaths });
    case 'oci':
      if (ociRuntime === null) throw new Error('the oci runtime is not built into this agent: run it with --runtime process');
      if (findRunc() === null) throw new Error(`--runtime oci needs runc on ${DEFAULT_PATH} (Debian package runc)`);
      return ociRuntime(c);
  }
}
