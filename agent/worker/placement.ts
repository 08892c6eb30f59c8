// Where each of a task's files goes on the secrets mount, and what the runtime binds from there. Pure decisions.
//
// Two folders per task on the mount (both under its root-only root, reached only by the runtime, as root):
//   MOUNT/<task ID>/         the task's relative secrets only: bound read-only at /run/secrets, so that a secret
//                            granted later appears there too. Nothing else is in it, so /run/secrets lists secrets.
//   MOUNT/<task ID>.files/   root's (0500), made only when needed: files bound one by one to their place:
//                            abs/<path>       absolute targets (secrets and configs), bound at /<path>;
//                            configs/<target> relative config targets, bound at /<target> (Docker's place), for
//                                             runtimes that can (the OCI runtime: the container's own root).
// The process runtime runs tasks on the host's root, where /<target> would need an overlay on the host's "/": it
// keeps relative configs in the task's folder (under /run/secrets), as before.
import { fileTargetProblem } from '../../shared/file-target.js';
import { taskFolderName, type FileRef, type TaskAssignment } from '../../shared/protocol.js';

/** After the task ID, which has no '.' (shared/protocol.ts ID_RE): never another task's folder name. */
export const FILES_FOLDER_SUFFIX = '.files';
export const ABSOLUTE_AREA = 'abs';
export const CONFIGS_AREA = 'configs';

/** Where relative config targets go: under /run/secrets (process runtime) or at /<target> (Docker, OCI). */
export type ConfigPlace = 'secrets-folder' | 'root';

export function filesFolderName(taskId: string): string {
  return `${taskFolderName(taskId)}${FILES_FOLDER_SUFFIX}`;
}

export interface PlacedFile {
  ref: FileRef;
  /** Path inside its folder (relative, validated). */
  path: string;
}

export interface Placement {
  /** Files of MOUNT/<task>/ (bound at /run/secrets). */
  folder: PlacedFile[];
  /** Files of MOUNT/<task>.files/ (none: the folder is not made). */
  files: PlacedFile[];
  /** Bound at their absolute target: path inside the files folder. */
  absoluteMounts: Array<{ path: string; target: string }>;
  /** Relative config targets bound at /<target>: path inside the files folder. */
  configMounts: Array<{ path: string; target: string }>;
}

/** Why one of the task's files cannot be placed (its target's shape, or two files at one place), or null. */
export function filesProblem(a: TaskAssignment, configs: ConfigPlace): string | null {
  for (const f of a.files) {
    const problem = fileTargetProblem(f.kind, f.target);
    if (problem) return problem;
  }
  const p = placeFiles(a, configs);
  const seen = new Set<string>();
  for (const m of [...p.absoluteMounts.map((x) => x.target), ...p.configMounts.map((x) => `/${x.target}`)]) {
    if (seen.has(m)) return `invalid mount target "${m}": used more than once`;
    seen.add(m);
  }
  return null;
}

/** The task's files by folder, and the binds the runtime makes from the files folder. Files whose target has a bad
 * shape are left out (filesProblem rejects the task for them before it starts). */
export function placeFiles(a: TaskAssignment, configs: ConfigPlace): Placement {
  const out: Placement = { folder: [], files: [], absoluteMounts: [], configMounts: [] };
  for (const ref of a.files) {
    if (fileTargetProblem(ref.kind, ref.target) !== null) continue;
    if (ref.target.startsWith('/')) {
      const path = `${ABSOLUTE_AREA}${ref.target}`;
      out.files.push({ ref, path });
      out.absoluteMounts.push({ path, target: ref.target });
    } else if (ref.kind === 'config' && configs === 'root') {
      const path = `${CONFIGS_AREA}/${ref.target}`;
      out.files.push({ ref, path });
      out.configMounts.push({ path, target: ref.target });
    } else out.folder.push({ ref, path: ref.target });
  }
  return out;
}
