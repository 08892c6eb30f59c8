// Everything a task's container needs on disk before runc runs it, under STATE/containers/<containerId>/:
//   upper/ work/   the task's writable layer (overlayfs upperdir/workdir)
//   rootfs/        the overlay (image rootfs below, upper/ above): the bundle's root
//   config.json    the bundle config (bundle-config.ts)
//   pid, runc.log  written by runc
// Mount points for secrets and configs, and the working folder, are made in rootfs/ (so in upper/), resolved inside
// the container's root.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoredImage } from '../../images/store.js';
import type { MergedConfig } from '../../images/merge.js';
import { SECRETS_TARGET, TaskSpecError, absolutePath, wantsSecretsBind } from '../../executor/spec.js';
import type { RuntimeTaskSpec } from '../runtime.js';
import { buildBundleConfig, type ReadOnlyBind } from './bundle-config.js';
import { containerEnv } from './container-env.js';
import { containerUser, ContainerUserError, type ContainerUser } from './container-user.js';
import type { OciTools } from './host-tools.js';
import type { OciSpec } from './oci-spec.js';
import { mountOverlay, unmountAllUnder } from './overlay.js';
import { ensureMountpoint, RootfsPathError } from './rootfs-path.js';
import { planTaskMounts } from './task-mounts.js';

export interface ContainerPaths {
  dir: string;
  upper: string;
  work: string;
  rootfs: string;
  config: string;
  pidFile: string;
  logFile: string;
}

export function containerPaths(containersDir: string, containerId: string): ContainerPaths {
  const dir = join(containersDir, containerId);
  return {
    dir,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    rootfs: join(dir, 'rootfs'),
    config: join(dir, 'config.json'),
    pidFile: join(dir, 'pid'),
    logFile: join(dir, 'runc.log'),
  };
}

export interface PreparedContainer {
  paths: ContainerPaths;
  spec: OciSpec;
  user: ContainerUser;
  binds: ReadOnlyBind[];
}

/** A reason the task is rejected (Docker's wording where it has one). */
export class ContainerPrepError extends Error {
  override name = 'ContainerPrepError';
}

export interface PrepInput {
  tools: OciTools;
  paths: ContainerPaths;
  task: RuntimeTaskSpec;
  image: StoredImage;
  merged: MergedConfig;
  hostname: string;
  cgroupsPath: string;
  /**
   * Runs the lookups of the task's sources on the secrets mount: the runtime passes a queue that runs one task's at a
   * time, as the process runtime does (mount-plan.ts: libuv pool threads blocked on lookups of our own FUSE mount
   * leave none to answer them).
   */
  lookups: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** Builds the container's root and bundle; on failure removes what it made and throws (ContainerPrepError for a
 * reason the task is rejected). */
export async function prepareContainer(input: PrepInput): Promise<PreparedContainer> {
  const { paths, tools } = input;
  // The task's writable layer holds what it writes: root's only.
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await Promise.all([paths.upper, paths.work, paths.rootfs].map((d) => mkdir(d, { mode: 0o755 })));
  try {
    await mountOverlay(tools, { lower: input.image.rootfs, upper: paths.upper, work: paths.work, target: paths.rootfs });
    return await fillBundle(input);
  } catch (err) {
    await removeContainerFiles(tools, paths.dir);
    if (err instanceof TaskSpecError || err instanceof RootfsPathError || err instanceof ContainerUserError) {
      throw new ContainerPrepError(err.message);
    }
    throw err;
  }
}

async function fillBundle(input: PrepInput): Promise<PreparedContainer> {
  const { paths, task, merged } = input;
  const planned = await input.lookups(() => planTaskMounts({
    secretsDir: task.secretsDir,
    filesDir: task.filesDir,
    secretsBind: task.secretsDir !== undefined && wantsSecretsBind(task),
    configMounts: task.configMounts,
    absoluteMounts: task.absoluteMounts,
  }));
  const user = await containerUser(paths.rootfs, merged.user);
  const binds: ReadOnlyBind[] = [];
  for (const p of planned) {
    let destination = p.target;
    if (!p.inSecretsFolder) {
      try {
        destination = await ensureMountpoint(paths.rootfs, p.target, p.kind);
      } catch (err) {
        if (err instanceof RootfsPathError) throw new TaskSpecError(`invalid mount target "${p.target}": ${err.message}`);
        throw err;
      }
    }
    binds.push({ source: p.source, destination });
  }
  // The folder bound at /run/secrets first, then what is bound below it or elsewhere.
  binds.sort((a, b) => Number(b.destination === SECRETS_TARGET) - Number(a.destination === SECRETS_TARGET));
  // Docker creates a missing working folder (SetupWorkingDirectory).
  const cwd = absolutePath('working folder', merged.workingDir);
  const cwdResolved = cwd === '/' ? '/' : await ensureMountpoint(paths.rootfs, cwd, 'dir').catch((err: unknown) => {
    throw err instanceof RootfsPathError ? new TaskSpecError(`invalid working folder "${cwd}": ${err.message}`) : err;
  });
  const spec = buildBundleConfig({
    rootfs: 'rootfs',
    args: merged.argv,
    env: containerEnv(merged.env, input.hostname, false),
    cwd: cwdResolved,
    uid: user.uid,
    gid: user.gid,
    additionalGids: user.additionalGids,
    hostname: input.hostname,
    binds,
    cgroupsPath: input.cgroupsPath,
  });
  await writeFile(paths.config, JSON.stringify(spec, null, 2) + '\n', { mode: 0o600 });
  return { paths, spec, user, binds };
}

/** Unmounts the container's root (and anything left below it) and deletes its folder, writable layer included. */
export async function removeContainerFiles(tools: OciTools, dir: string): Promise<void> {
  await unmountAllUnder(tools, dir);
  await rm(dir, { recursive: true, force: true });
}
