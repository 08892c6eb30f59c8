// What a task binds into its container, checked and ordered: the task's secrets folder at /run/secrets, configs at
// /<target>, absolute targets where they say (docker-swarm-wave2.md §1.8). Targets inside /run/secrets are files of
// the (read-only) folder itself and must be there already; every other target gets its mount point in the
// container's own root (rootfs-path.ts), never on the host.
import { stat } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { SECRETS_TARGET, TaskSpecError, absolutePath, isUnder, type AbsoluteMount } from '../../executor/spec.js';

export interface PlannedBind {
  /** Host path of the file (or, for /run/secrets, the folder) bound. */
  source: string;
  /** Absolute path in the container, as asked (resolved inside the root later). */
  target: string;
  kind: 'file' | 'dir';
  /** Inside the bound secrets folder: already there, nothing to create. */
  inSecretsFolder: boolean;
}

export interface TaskMountsInput {
  secretsDir?: string | undefined;
  /** The task's root-only files folder (absolute targets and configs), beside its secrets folder. */
  filesDir?: string | undefined;
  secretsBind: boolean;
  configMounts?: Array<{ source: string; target: string }> | undefined;
  absoluteMounts?: AbsoluteMount[] | undefined;
}

function relativeInside(what: string, p: string): string {
  if (p === '' || p.includes('\0') || isAbsolute(p) || p.split('/').some((c) => c === '..' || c === '')) {
    throw new TaskSpecError(`invalid ${what} "${p}": expected a relative path without ".." or empty parts`);
  }
  return normalize(p);
}

function sourceIn(secretsDir: string, filesDir: string | null, source: string): string {
  if (isAbsolute(source)) {
    const abs = absolutePath('secret source', source);
    if (!isUnder(abs, secretsDir) && !(filesDir !== null && isUnder(abs, filesDir))) {
      throw new TaskSpecError(`invalid secret source "${source}": not inside the task's secrets or files folder`);
    }
    return abs;
  }
  return join(secretsDir, relativeInside('secret source', source));
}

/** Throws TaskSpecError (the task is rejected) for a target that cannot be bound. */
export async function planTaskMounts(input: TaskMountsInput): Promise<PlannedBind[]> {
  const configs = input.configMounts ?? [];
  const absolutes = input.absoluteMounts ?? [];
  if (input.secretsDir === undefined) {
    if (input.secretsBind || configs.length > 0 || absolutes.length > 0) {
      throw new TaskSpecError('a task with secrets needs its secrets folder (secretsDir)');
    }
    return [];
  }
  const secretsDir = absolutePath('secrets folder', input.secretsDir);
  const filesDir = input.filesDir === undefined ? null : absolutePath('files folder', input.filesDir);
  const wanted: Array<{ source: string; target: string }> = [
    ...configs.map((c) => ({ source: sourceIn(secretsDir, filesDir, c.source), target: '/' + relativeInside('config target', c.target) })),
    ...absolutes.map((m) => ({ source: sourceIn(secretsDir, filesDir, m.source), target: absolutePath('mount target', m.target) })),
  ];
  const out: PlannedBind[] = [];
  if (input.secretsBind) out.push({ source: secretsDir, target: SECRETS_TARGET, kind: 'dir', inSecretsFolder: false });
  const seen = new Set<string>(input.secretsBind ? [SECRETS_TARGET] : []);
  // One lookup at a time: the sources live on the FUSE mount this very process may serve (see mount-plan.ts).
  for (const w of wanted) {
    if (w.target === '/' || seen.has(w.target)) throw new TaskSpecError(`invalid mount target "${w.target}": cannot mount a secret over it`);
    seen.add(w.target);
    let st;
    try {
      st = await stat(w.source);
    } catch (err) {
      throw new TaskSpecError(`secret source for "${w.target}" is not reachable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!st.isFile()) throw new TaskSpecError(`secret source for "${w.target}" is not a file`);
    const inSecretsFolder = input.secretsBind && isUnder(w.target, SECRETS_TARGET);
    if (inSecretsFolder) {
      // Bound over a file the read-only folder already shows; a missing one cannot be created there.
      const shown = join(secretsDir, w.target.slice(SECRETS_TARGET.length + 1));
      const there = await stat(shown).catch(() => null);
      if (!there?.isFile()) throw new TaskSpecError(`invalid mount target "${w.target}": not a file of the task's secrets folder`);
    }
    out.push({ source: w.source, target: w.target, kind: 'file', inSecretsFolder });
  }
  return out;
}
