// A compose file read into typed values: the subset `runsecrets stack deploy` converts (services with image,
// command, entrypoint, environment, labels, user, working_dir, hostname, secrets and configs in short and long
// syntax, networks, deploy.mode/replicas/labels/placement.constraints; top-level networks, secrets and configs with
// file, external, name, labels). Other service keys are reported as docker does ("Ignoring unsupported options").
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { interpolate } from './interpolate.js';

export class ComposeError extends Error {}

export interface ComposeRef {
  source: string;
  target: string | null;
  uid: string | null;
  gid: string | null;
  mode: number | null;
}

export interface ComposeService {
  key: string;
  image: string;
  command: string[] | null;
  entrypoint: string[] | null;
  environment: string[];
  labels: Record<string, string>;
  user: string;
  workingDir: string;
  hostname: string;
  secrets: ComposeRef[];
  configs: ComposeRef[];
  /** null: not given (the stack's default network). */
  networks: { key: string; aliases: string[] }[] | null;
  mode: 'replicated' | 'global';
  replicas: number | null;
  deployLabels: Record<string, string>;
  constraints: string[];
}

export interface ComposeObject {
  key: string;
  name: string | null;
  /** An absolute path (relative ones are taken from the compose file's folder). */
  file: string | null;
  external: boolean;
  labels: Record<string, string>;
  templateDriver: string | null;
}

export interface ComposeNetwork {
  key: string;
  name: string | null;
  external: boolean;
  driver: string;
  driverOpts: Record<string, string>;
  labels: Record<string, string>;
  internal: boolean;
  attachable: boolean;
}

export interface ComposeFile {
  services: ComposeService[];
  networks: ComposeNetwork[];
  secrets: ComposeObject[];
  configs: ComposeObject[];
  /** Service keys the conversion does not use (docker's warning lists them). */
  unsupported: string[];
}

type Obj = Record<string, unknown>;

const SERVICE_KEYS = new Set(['image', 'command', 'entrypoint', 'environment', 'labels', 'user', 'working_dir', 'hostname', 'secrets', 'configs', 'networks', 'deploy']);

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function obj(v: unknown, where: string): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new ComposeError(`${where} must be a mapping`);
  return v;
}

function str(v: unknown, where: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new ComposeError(`${where} must be a string`);
}

function bool(v: unknown, where: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new ComposeError(`${where} must be a boolean`);
  return v;
}

/** Compose's "list or dict" (labels, environment): a mapping, or a list of KEY=VALUE (a bare KEY: empty value). */
function listOrDict(v: unknown, where: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (Array.isArray(v)) {
    const out: Record<string, string> = {};
    for (const item of v) {
      const s = str(item, where);
      const i = s.indexOf('=');
      out[i < 0 ? s : s.slice(0, i)] = i < 0 ? '' : s.slice(i + 1);
    }
    return out;
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v, where))) out[k] = str(val, `${where}.${k}`);
  return out;
}

/** A command in shell form is split as a POSIX shell splits words (quotes and backslashes, no expansion). */
export function shellSplit(s: string, where: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1]!)) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new ComposeError(`${where}: unterminated quote`);
  if (inWord) out.push(cur);
  return out;
}

function command(v: unknown, where: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return shellSplit(v, where);
  if (Array.isArray(v)) return v.map((x, i) => str(x, `${where}[${i}]`));
  throw new ComposeError(`${where} must be a string or a list`);
}

function refs(v: unknown, where: string): ComposeRef[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ComposeError(`${where} must be a list`);
  return v.map((item, i) => {
    if (typeof item === 'string') return { source: item, target: null, uid: null, gid: null, mode: null };
    const o = obj(item, `${where}[${i}]`);
    const mode = o.mode;
    if (mode !== undefined && mode !== null && (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0)) {
      throw new ComposeError(`${where}[${i}].mode must be a file mode (e.g. 0440)`);
    }
    const opt = (k: string): string | null => (o[k] === undefined || o[k] === null ? null : str(o[k], `${where}[${i}].${k}`));
    const source = str(o.source, `${where}[${i}].source`);
    if (source === '') throw new ComposeError(`${where}[${i}].source is required`);
    return { source, target: opt('target'), uid: opt('uid'), gid: opt('gid'), mode: typeof mode === 'number' ? mode : null };
  });
}

function serviceNetworks(v: unknown, where: string): ComposeService['networks'] {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return v.map((x, i) => ({ key: str(x, `${where}[${i}]`), aliases: [] }));
  return Object.entries(obj(v, where)).map(([key, cfg]) => {
    const aliases = obj(cfg, `${where}.${key}`).aliases;
    return { key, aliases: Array.isArray(aliases) ? aliases.map((a, i) => str(a, `${where}.${key}.aliases[${i}]`)) : [] };
  });
}

function service(key: string, v: unknown, unsupported: Set<string>): ComposeService {
  const where = `services.${key}`;
  const o = obj(v, where);
  for (const k of Object.keys(o)) if (!SERVICE_KEYS.has(k)) unsupported.add(k);
  const deploy = obj(o.deploy, `${where}.deploy`);
  const modeIn = str(deploy.mode, `${where}.deploy.mode`) || 'replicated';
  if (modeIn !== 'replicated' && modeIn !== 'global') throw new ComposeError(`unsupported mode: ${JSON.stringify(modeIn)}`);
  const replicas = deploy.replicas;
  if (replicas !== undefined && replicas !== null && (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)) {
    throw new ComposeError(`${where}.deploy.replicas must be a non-negative integer`);
  }
  const constraints = obj(deploy.placement, `${where}.deploy.placement`).constraints;
  const env = listOrDict(o.environment, `${where}.environment`);
  const image = str(o.image, `${where}.image`);
  if (image === '') throw new ComposeError(`${where}: image is required (runsecrets stack deploy does not build)`);
  return {
    key,
    image,
    command: command(o.command, `${where}.command`),
    entrypoint: command(o.entrypoint, `${where}.entrypoint`),
    // docker's convertEnvironment: KEY=VALUE, sorted
    environment: Object.entries(env)
      .map(([k, val]) => `${k}=${val}`)
      .sort(),
    labels: listOrDict(o.labels, `${where}.labels`),
    user: str(o.user, `${where}.user`),
    workingDir: str(o.working_dir, `${where}.working_dir`),
    hostname: str(o.hostname, `${where}.hostname`),
    secrets: refs(o.secrets, `${where}.secrets`),
    configs: refs(o.configs, `${where}.configs`),
    networks: serviceNetworks(o.networks, `${where}.networks`),
    mode: modeIn,
    replicas: typeof replicas === 'number' ? replicas : null,
    deployLabels: listOrDict(deploy.labels, `${where}.deploy.labels`),
    constraints: Array.isArray(constraints) ? constraints.map((c, i) => str(c, `${where}.deploy.placement.constraints[${i}]`)) : [],
  };
}

function object(key: string, v: unknown, kind: 'secrets' | 'configs', dir: string): ComposeObject {
  const where = `${kind}.${key}`;
  const o = obj(v, where);
  const file = str(o.file, `${where}.file`);
  const external = isObj(o.external) ? true : bool(o.external, `${where}.external`);
  if (!external && file === '') throw new ComposeError(`${kind.slice(0, -1)} ${key}: runsecrets stack deploy needs "file:" or "external: true"`);
  return {
    key,
    name: o.name === undefined || o.name === null ? null : str(o.name, `${where}.name`),
    file: file === '' ? null : isAbsolute(file) ? file : resolve(dir, file),
    external,
    labels: listOrDict(o.labels, `${where}.labels`),
    templateDriver: o.template_driver ? str(o.template_driver, `${where}.template_driver`) : null,
  };
}

function network(key: string, v: unknown): ComposeNetwork {
  const where = `networks.${key}`;
  const o = obj(v, where);
  return {
    key,
    name: o.name === undefined || o.name === null ? null : str(o.name, `${where}.name`),
    external: isObj(o.external) ? true : bool(o.external, `${where}.external`),
    driver: str(o.driver, `${where}.driver`),
    driverOpts: listOrDict(o.driver_opts, `${where}.driver_opts`),
    labels: listOrDict(o.labels, `${where}.labels`),
    internal: bool(o.internal, `${where}.internal`),
    attachable: bool(o.attachable, `${where}.attachable`),
  };
}

/** Every string of the parsed document, interpolated (keys too, as compose does for values only: keys stay). */
function interpolateAll(v: unknown, env: NodeJS.ProcessEnv, where: string): unknown {
  if (typeof v === 'string') return interpolate(v, env, where);
  if (Array.isArray(v)) return v.map((x, i) => interpolateAll(x, env, `${where}[${i}]`));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateAll(x, env, where ? `${where}.${k}` : k)]));
  return v;
}

export function loadComposeFile(path: string, env: NodeJS.ProcessEnv = process.env): ComposeFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ComposeError(`open ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text, { version: '1.1' }); // YAML 1.1 as docker's loader reads it: `mode: 0440` is octal
  } catch (err) {
    throw new ComposeError(`yaml: ${(err as Error).message}`);
  }
  const top = obj(interpolateAll(doc, env, ''), 'the compose file');
  const dir = dirname(resolve(path));
  const unsupported = new Set<string>();
  return {
    services: Object.entries(obj(top.services, 'services')).map(([k, v]) => service(k, v, unsupported)),
    networks: Object.entries(obj(top.networks, 'networks')).map(([k, v]) => network(k, v)),
    secrets: Object.entries(obj(top.secrets, 'secrets')).map(([k, v]) => object(k, v, 'secrets', dir)),
    configs: Object.entries(obj(top.configs, 'configs')).map(([k, v]) => object(k, v, 'configs', dir)),
    unsupported: [...unsupported].sort(),
  };
}
