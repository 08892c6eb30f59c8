// Docker's merge of an image config with a Swarm ContainerSpec (moby executor container.go config(), daemon
// commit.go merge(), getEntrypointAndArgs): pure, so every rule of docker-swarm-wave2.md §2 has a unit test.
import type { ImageConfig } from './image-config.js';

/** The ContainerSpec fields the merge reads (Docker's names in comments). */
export interface ContainerSpecPart {
  command?: string[]; // Command
  args?: string[]; // Args
  env?: string[]; // Env
  user?: string; // User
  dir?: string; // Dir
  stopSignal?: string; // StopSignal
  labels?: Record<string, string>; // Labels
}

export interface MergedConfig {
  entrypoint: string[] | null;
  cmd: string[] | null;
  /** The process's argv: entrypoint then cmd, or cmd alone. */
  argv: string[];
  env: string[];
  /** "" means root; resolved against the container's /etc/passwd and /etc/group at start. */
  user: string;
  workingDir: string;
  stopSignal?: string;
  labels: Record<string, string>;
}

export class NoCommandError extends Error {
  constructor() {
    super('no command specified');
  }
}

function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/** Image entries whose key the user did not set are appended after the user's (a bare "FOO" counts as set). */
export function mergeEnv(user: string[], image: string[]): string[] {
  if (user.length === 0) return [...image];
  const keys = new Set(user.map(envKey));
  return [...user, ...image.filter((e) => !keys.has(envKey(e)))];
}

/** Throws NoCommandError ("no command specified") when neither side names a program. */
export function mergeImageConfig(image: ImageConfig, spec: ContainerSpecPart): MergedConfig {
  const command = spec.command ?? [];
  const args = spec.args ?? [];
  // Executor step: Command -> Entrypoint (Args -> Cmd); Args alone -> Cmd.
  let entrypoint: string[] | null = command.length > 0 ? [...command] : null;
  let cmd: string[] | null = args.length > 0 ? [...args] : null;
  // Daemon merge: only when the user gave no Entrypoint, the image's CMD and ENTRYPOINT fill in.
  if (entrypoint === null) {
    if (cmd === null && image.cmd !== null && image.cmd.length > 0) cmd = [...image.cmd];
    if (image.entrypoint !== null && image.entrypoint.length > 0) entrypoint = [...image.entrypoint];
  }
  // After the merge, [""] means "no entrypoint" (so Command [""] drops the image's, and its CMD is not used).
  if (entrypoint !== null && entrypoint.length === 1 && entrypoint[0] === '') entrypoint = null;
  const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (argv.length === 0) throw new NoCommandError();
  const labels = { ...image.labels, ...(spec.labels ?? {}) };
  const stopSignal = spec.stopSignal || image.stopSignal;
  return {
    entrypoint,
    cmd,
    argv,
    env: mergeEnv(spec.env ?? [], image.env),
    user: spec.user || image.user || '',
    workingDir: spec.dir || image.workingDir || '/',
    ...(stopSignal ? { stopSignal } : {}),
    labels,
  };
}
