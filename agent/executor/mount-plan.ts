// Which mounts a task needs and in what order, checked against the host as far as the host can tell (the launcher
// checks again inside the namespace). Async file system calls only: the secrets folder lives on a FUSE mount that
// this very process may serve, and a synchronous stat of it would block the loop that must answer it.
import { readFile, realpath, lstat, stat } from 'node:fs/promises';
import { dirname, relative, isAbsolute } from 'node:path';
import { FS_TYPE } from '../fs/mount.js';
import type { LauncherOp } from './launcher.js';
import { SECRETS_TARGET, TaskSpecError, absolutePath, isUnder, type AbsoluteMount } from './spec.js';

export interface MountPoint {
  path: string;
  fstype: string;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export async function readMounts(file = '/proc/self/mountinfo'): Promise<MountPoint[]> {
  const out: MountPoint[] = [];
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const [left, right] = line.split(' - ');
    const f = left?.split(' ');
    if (!f || f[4] === undefined || !right) continue;
    out.push({ path: unescape(f[4]), fstype: right.split(' ')[0] ?? '' });
  }
  return out;
}

/** The mount that holds path (the deepest mount point at or above it). */
export function mountOf(path: string, mounts: MountPoint[]): MountPoint | undefined {
  let best: MountPoint | undefined;
  for (const m of mounts) {
    if ((m.path === path || isUnder(path, m.path)) && (!best || m.path.length >= best.path.length)) best = m;
  }
  return best;
}

/** Mount points strictly below dir that no other such mount point contains, relative to dir (an rbind of each
 * brings the ones below it). */
export function topSubmounts(dir: string, mounts: MountPoint[]): string[] {
  const under = [...new Set(mounts.map((m) => m.path).filter((p) => isUnder(p, dir)))];
  return under
    .filter((p) => !under.some((q) => q !== p && isUnder(p, q)))
    .sort()
    .map((p) => relative(dir, p));
}

async function kind(path: string): Promise<'missing' | 'dir' | 'other'> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'other';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // A dangling symlink is "other": mount would follow it, so do not pretend the name is free.
      try {
        await lstat(path);
        return 'other';
      } catch {
        return 'missing';
      }
    }
    throw err;
  }
}

export interface MountPlanInput {
  secretsDir: string;
  secretMounts: boolean;
  absoluteMounts: AbsoluteMount[];
  /** The task's files folder (absolute targets' sources may be there instead of in secretsDir). */
  filesDir?: string;
}

type Bind = { source: string; target: string; from: 'secrets' | 'files' };

export interface MountPlan {
  /** The real path of the task's secrets folder. */
  secretsDir: string;
  ops: LauncherOp[];
}

/** Throws TaskSpecError (the task is rejected) when a target cannot be mounted. */
export async function planMounts(input: MountPlanInput, mountsFile?: string): Promise<MountPlan> {
  let secretsDir: string;
  try {
    secretsDir = await realpath(absolutePath('secrets folder', input.secretsDir));
  } catch (err) {
    if (err instanceof TaskSpecError) throw err;
    throw new TaskSpecError(`the task's secrets folder "${input.secretsDir}" is not reachable: ${(err as Error).message}`);
  }
  let filesDir: string | undefined;
  if (input.filesDir !== undefined) {
    try {
      filesDir = await realpath(absolutePath('files folder', input.filesDir));
    } catch (err) {
      if (err instanceof TaskSpecError) throw err;
      throw new TaskSpecError(`the task's files folder "${input.filesDir}" is not reachable: ${(err as Error).message}`);
    }
  }
  const mounts = await readMounts(mountsFile);
  const own = mountOf(secretsDir, mounts);
  const ownFuse = own && own.path !== '/' && own.fstype.startsWith('fuse') ? own : undefined;

  // Targets below /run/secrets are inside the task's own (read-only) folder once that is bound: they are bound
  // after it, and must exist there. Others are checked on the host, which the namespace starts as a copy of.
  const early: Bind[] = [];
  const late: Bind[] = [];
  const seen = new Set<string>();
  for (const m of input.absoluteMounts) {
    const target = absolutePath('mount target', m.target);
    if (target === '/' || (input.secretMounts && target === SECRETS_TARGET)) {
      throw new TaskSpecError(`invalid mount target "${m.target}": cannot mount a secret over it`);
    }
    if (seen.has(target)) throw new TaskSpecError(`invalid mount target "${target}": used more than once`);
    // A secrets mount is hidden inside the task (the task's own one after its binds are made, which unmounting it
    // would take along): no target can live in one.
    const inside = mounts.find((x) => (x.fstype === FS_TYPE || x === ownFuse) && isUnder(target, x.path, true));
    if (inside) throw new TaskSpecError(`invalid mount target "${target}": it is inside the secrets mount "${inside.path}"`);
    seen.add(target);
    const srcAbs = isAbsolute(m.source) ? absolutePath('secret source', m.source) : absolutePath('secret source', `${secretsDir}/${m.source}`);
    const norm = absolutePath('secrets folder', input.secretsDir);
    const filesNorm = input.filesDir === undefined ? undefined : absolutePath('files folder', input.filesDir);
    let bind: Bind;
    if (isUnder(srcAbs, secretsDir) || isUnder(srcAbs, norm)) {
      bind = { source: relative(isUnder(srcAbs, secretsDir) ? secretsDir : norm, srcAbs), target, from: 'secrets' };
    } else if (filesDir !== undefined && filesNorm !== undefined && (isUnder(srcAbs, filesDir) || isUnder(srcAbs, filesNorm))) {
      bind = { source: relative(isUnder(srcAbs, filesDir) ? filesDir : filesNorm, srcAbs), target, from: 'files' };
    } else throw new TaskSpecError(`invalid secret source "${m.source}": not inside the task's secrets or files folder`);
    (input.secretMounts && isUnder(target, SECRETS_TARGET) ? late : early).push(bind);
  }

  // Missing targets get an overlay on their parent; parents are handled shallow first, so that a later overlay is
  // never hidden by an earlier one.
  const overlays = new Map<string, Array<{ path: string; op: 'touch' | 'mkdir' }>>();
  const checked: Bind[] = [];
  for (const e of early) {
    const parent = dirname(e.target);
    const pk = await kind(parent);
    if (pk === 'missing') throw new TaskSpecError(`invalid mount target "${e.target}": parent folder "${parent}" does not exist`);
    if (pk !== 'dir') throw new TaskSpecError(`invalid mount target "${e.target}": parent "${parent}" is not a folder`);
    const tk = await kind(e.target);
    if (tk === 'dir') throw new TaskSpecError(`invalid mount target "${e.target}": it is a folder, a secret needs a file`);
    if (tk === 'missing') {
      const list = overlays.get(parent) ?? [];
      list.push({ path: e.target, op: 'touch' });
      overlays.set(parent, list);
    }
    checked.push(e);
  }
  if (input.secretMounts) {
    const tk = await kind(SECRETS_TARGET);
    if (tk === 'other') throw new TaskSpecError(`cannot mount the task's secrets at ${SECRETS_TARGET}: it is not a folder on this host`);
    if (tk === 'missing') {
      const parent = dirname(SECRETS_TARGET);
      if ((await kind(parent)) !== 'dir') throw new TaskSpecError(`cannot mount the task's secrets: "${parent}" does not exist on this host`);
      const list = overlays.get(parent) ?? [];
      list.push({ path: SECRETS_TARGET, op: 'mkdir' });
      overlays.set(parent, list);
    }
  }

  // Every other secrets mount is hidden first (every other task's folder, and those of any other agent on this
  // host), so that nothing placed later is inside one that goes: the launcher unmounts, inside the namespace, every
  // mount of our file system type but the one that holds the task's folder, the source of its binds.
  // The files folder is opened first too, before any mount can change what its path resolves to.
  const ops: LauncherOp[] = [...(filesDir !== undefined ? [{ op: 'files' as const, path: filesDir }] : []), { op: 'hide-all', fstype: FS_TYPE, except: ownFuse?.path ?? '' }];
  const parents = [...overlays.keys()].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  for (const parent of parents) {
    ops.push({ op: 'overlay', parent, submounts: topSubmounts(parent, mounts) });
    for (const t of overlays.get(parent)!) ops.push({ op: t.op, path: t.path });
  }
  const bindOp = (e: Bind): LauncherOp => ({ op: e.from === 'files' ? 'bind-file' : 'bind', source: e.source || '.', target: e.target });
  for (const e of checked) {
    ops.push({ op: 'need-dir', parent: dirname(e.target), target: e.target });
    ops.push(bindOp(e));
  }
  if (input.secretMounts) ops.push({ op: 'bind', source: '.', target: SECRETS_TARGET });
  for (const e of late) {
    ops.push({ op: 'need-dir', parent: dirname(e.target), target: e.target });
    ops.push(bindOp(e));
  }

  // Last, the task's own secrets mount, once its binds are made (what is at or below /run/secrets is covered by the
  // task's bind already). One containing /run/secrets is refused, as unmounting it would take the task's bind along.
  if (ownFuse) {
    if (input.secretMounts && isUnder(SECRETS_TARGET, ownFuse.path)) {
      throw new TaskSpecError(`the secrets mount "${ownFuse.path}" contains ${SECRETS_TARGET}: mount it elsewhere`);
    }
    const covered = input.secretMounts && (ownFuse.path === SECRETS_TARGET || isUnder(ownFuse.path, SECRETS_TARGET));
    if (!covered) ops.push({ op: 'hide', mount: ownFuse.path });
  }
  return { secretsDir, ops };
}
