// The parts of an OCI image config a task needs, parsed into a typed value (image-spec config.json "config").
export interface ImageConfig {
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];
  user: string;
  workingDir: string;
  labels: Record<string, string>;
  stopSignal?: string;
  os: string;
  architecture: string;
}

export class ImageConfigError extends Error {}

function strList(v: unknown, what: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ImageConfigError(`image config: ${what} is not a list of strings`);
  return v as string[];
}

function str(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new ImageConfigError(`image config: ${what} is not a string`);
  return v;
}

/** Parses an image config blob (JSON bytes); throws naming the field that is wrong. */
export function parseImageConfig(bytes: Buffer): ImageConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ImageConfigError(`image config is not JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ImageConfigError('image config is not a JSON object');
  const top = doc as Record<string, unknown>;
  const c = top.config ?? {};
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new ImageConfigError('image config: config is not an object');
  const cfg = c as Record<string, unknown>;
  const labels: Record<string, string> = {};
  if (cfg.Labels !== undefined && cfg.Labels !== null) {
    if (typeof cfg.Labels !== 'object' || Array.isArray(cfg.Labels)) throw new ImageConfigError('image config: Labels is not an object');
    for (const [k, v] of Object.entries(cfg.Labels as Record<string, unknown>)) labels[k] = str(v, `Labels.${k}`);
  }
  const stopSignal = str(cfg.StopSignal, 'StopSignal');
  return {
    entrypoint: strList(cfg.Entrypoint, 'Entrypoint'),
    cmd: strList(cfg.Cmd, 'Cmd'),
    env: strList(cfg.Env, 'Env') ?? [],
    user: str(cfg.User, 'User'),
    workingDir: str(cfg.WorkingDir, 'WorkingDir'),
    labels,
    ...(stopSignal !== '' ? { stopSignal } : {}),
    os: str(top.os, 'os'),
    architecture: str(top.architecture, 'architecture'),
  };
}
