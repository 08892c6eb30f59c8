// Task manifests for standalone mode: parsing and validation only (no I/O beyond the text given).
import { isScalar, parseDocument, visit, type Document } from 'yaml';
import { basename, extname, isAbsolute, resolve, dirname } from 'node:path';
import { objectNameError } from '../../shared/names.js';
import type { PayloadKind } from '../../shared/limits.js';

export interface FileRef {
  kind: PayloadKind;
  /** Absolute path of the source file. */
  source: string;
  target: string;
  uid: number;
  gid: number;
  mode: number;
}

export interface Manifest {
  task: string;
  uid: number;
  gid: number;
  files: FileRef[];
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

const TOP_FIELDS = new Set(['task', 'uid', 'gid', 'secrets', 'configs']);
const REF_FIELDS = new Set(['file', 'target', 'uid', 'gid', 'mode']);
const MAX_ID = 0xfffffffe; // (uid_t)-1 means "no change" to the kernel

export const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

export function isManifestFile(path: string): boolean {
  return MANIFEST_EXTENSIONS.includes(extname(path).toLowerCase());
}

/** The task name a manifest file gets when it does not say one: its base name without the extension. */
export function defaultTaskName(path: string): string {
  return basename(path, extname(path));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseId(v: unknown, where: string): number {
  if (v === undefined) return 0;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_ID) {
    throw new ManifestError(`${where} must be a number from 0 to ${MAX_ID}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Mode: an octal string ("0440", "440") or a number (YAML 1.1 reads 0440 as octal, as compose files do), from 0000
 * to 0777: setuid, setgid and sticky bits mean nothing on a secret file and are refused. */
export function parseMode(v: unknown, where: string): number {
  if (v === undefined) return 0o444;
  let n: number | undefined;
  if (typeof v === 'string' && /^0?[0-7]{1,4}$/.test(v)) n = parseInt(v, 8);
  else if (typeof v === 'number' && Number.isInteger(v)) n = v;
  if (n === undefined || n < 0 || n > 0o777) {
    const shown = typeof v === 'number' && Number.isInteger(v) && v >= 0 ? `${JSON.stringify(v)} (octal ${v.toString(8).padStart(4, '0')})` : JSON.stringify(v);
    throw new ManifestError(`${where} must be an octal mode from 0000 to 0777 (no setuid, setgid or sticky bit), got ${shown}`);
  }
  return n;
}

/**
 * What is wrong with a mode YAML read as a number, from its source text: `mode: 644` is the decimal number 644
 * (0o1204: --w----r-T), `mode: 0999` is not octal either. null when the text was octal (0440) or a number below 8.
 */
export function yamlModeProblem(source: string, value: number): string | null {
  if (/^0[0-7]*$/.test(source)) return null;
  if (/^0\d+$/.test(source)) return `mode ${source} is not an octal number (8 and 9 are not octal digits; YAML read it as the decimal number ${value})`;
  if (!/^\d+$/.test(source) || value < 8) return null;
  const octal = /^[0-7]+$/.test(source) ? `0${source}` : '0440';
  return `mode ${source} was read as the decimal number ${value} (YAML); write it quoted as "${octal}" or as ${octal} in YAML 1.1`;
}

/** Refuses a `mode:` that YAML read as a decimal number, naming the file reference it belongs to. */
function checkYamlModes(doc: Document): void {
  visit(doc, {
    Pair(_, pair, path) {
      if (!isScalar(pair.key) || pair.key.value !== 'mode' || !isScalar(pair.value) || typeof pair.value.value !== 'number') return;
      const problem = yamlModeProblem(pair.value.source ?? String(pair.value.value), pair.value.value);
      if (!problem) return;
      // path: [document, top map, section pair, list, this mapping]
      const sectionPair = path[2];
      const list = path[3];
      const section = sectionPair && 'key' in sectionPair && isScalar(sectionPair.key) ? String(sectionPair.key.value) : 'files';
      const index = list && 'items' in list ? (list.items as unknown[]).indexOf(path[4]) : -1;
      throw new ManifestError(`${section}[${index}].mode: ${problem}`);
    },
  });
}

/** A target: a relative path under the task folder, with no '..' or '.' parts and no empty parts. */
export function targetError(target: string): string | null {
  if (target === '') return 'must not be empty';
  if (target.startsWith('/')) return 'must be relative to the task folder, not absolute';
  if (target.includes('\0')) return 'must not contain NUL';
  for (const part of target.split('/')) {
    if (part === '') return 'must not have empty parts';
    if (part === '.' || part === '..') return `must not contain '${part}'`;
    if (Buffer.byteLength(part) > 255) return 'has a part longer than 255 bytes';
  }
  return null;
}

function parseRefs(kind: PayloadKind, list: unknown, manifestDir: string): FileRef[] {
  const section = `${kind}s`;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new ManifestError(`'${section}' must be a list`);
  return list.map((item, i) => {
    const where = `${section}[${i}]`;
    if (!isPlainObject(item)) throw new ManifestError(`${where} must be a mapping`);
    for (const k of Object.keys(item)) {
      if (!REF_FIELDS.has(k)) throw new ManifestError(`${where}: unknown field '${k}'`);
    }
    if (typeof item.file !== 'string' || item.file === '') throw new ManifestError(`${where}.file must be a path`);
    const target = item.target ?? basename(item.file);
    if (typeof target !== 'string') throw new ManifestError(`${where}.target must be a string`);
    const bad = targetError(target);
    if (bad) throw new ManifestError(`${where}.target ${JSON.stringify(target)} ${bad}`);
    return {
      kind,
      source: isAbsolute(item.file) ? item.file : resolve(manifestDir, item.file),
      target,
      uid: parseId(item.uid, `${where}.uid`),
      gid: parseId(item.gid, `${where}.gid`),
      mode: parseMode(item.mode, `${where}.mode`),
    };
  });
}

/** Refuses two files at one target, and a file that would also have to be a folder ('a' and 'a/b'). */
function checkTargets(files: FileRef[]): void {
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.target)) throw new ManifestError(`duplicate target ${JSON.stringify(f.target)}`);
    seen.add(f.target);
  }
  for (const f of files) {
    const parts = f.target.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (seen.has(dir)) throw new ManifestError(`target ${JSON.stringify(dir)} is a file and also the folder of ${JSON.stringify(f.target)}`);
    }
  }
}

/**
 * YAML 1.1 (so that `mode: 0440` is octal, as in compose files), strictly: a warning (unknown tag, directive,
 * ambiguous alias) refuses the manifest instead of going to stderr, and alias expansion is capped.
 */
function parseYamlStrict(text: string): unknown {
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: false, logLevel: 'silent' });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw problem;
  checkYamlModes(doc);
  return doc.toJS({ maxAliasCount: 100 });
}

/** Parses and validates one manifest's text. Throws ManifestError naming the problem. */
export function parseManifest(text: string, path: string): Manifest {
  let doc: unknown;
  try {
    doc = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYamlStrict(text);
  } catch (err) {
    if (err instanceof ManifestError) throw err;
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ManifestError(`cannot parse: ${msg}`);
  }
  if (!isPlainObject(doc)) throw new ManifestError('must be a mapping with task, uid, gid, secrets, configs');
  for (const k of Object.keys(doc)) {
    if (!TOP_FIELDS.has(k)) throw new ManifestError(`unknown field '${k}'`);
  }
  const task = doc.task ?? defaultTaskName(path);
  if (typeof task !== 'string') throw new ManifestError('task must be a string');
  const nameErr = objectNameError(task);
  if (nameErr) throw new ManifestError(`task name ${JSON.stringify(task)}: ${nameErr}`);
  const dir = dirname(path);
  const files = [...parseRefs('secret', doc.secrets, dir), ...parseRefs('config', doc.configs, dir)];
  checkTargets(files);
  return { task, uid: parseId(doc.uid, 'uid'), gid: parseId(doc.gid, 'gid'), files };
}

/** Can a process with this uid and gid (no supplementary groups) read a file with this owner and mode? As the kernel
 * checks it: root passes; otherwise the owner bits if it owns the file, else the group bits, else the others'. */
export function canRead(uid: number, gid: number, f: Pick<FileRef, 'uid' | 'gid' | 'mode'>): boolean {
  if (uid === 0) return true;
  if (uid === f.uid) return (f.mode & 0o400) !== 0;
  if (gid === f.gid) return (f.mode & 0o040) !== 0;
  return (f.mode & 0o004) !== 0;
}

/** The files of a manifest its own task (uid, gid) cannot read: worth a warning, not a refusal (supplementary
 * groups or a task that only hands the file on may be meant). */
export function unreadableFiles(m: Manifest): FileRef[] {
  return m.files.filter((f) => !canRead(m.uid, m.gid, f));
}
