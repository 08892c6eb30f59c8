// Shared machinery for the docker-vs-runsecrets comparison tests: run the stock docker CLI and our CLI with the
// same arguments against one real manager and compare stdout, stderr and exit code.
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, request, runCli, type CliResult, type ManagerHandle } from '../helpers/manager.js';

/** The stock docker CLI: $DOCKER_CLI, else the first `docker` on PATH (it may be /usr/bin or /usr/local/bin). */
function findDocker(): string | null {
  if (process.env.DOCKER_CLI) return process.env.DOCKER_CLI;
  for (const d of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (d && existsSync(join(d, 'docker'))) return join(d, 'docker');
  }
  return null;
}

export const DOCKER = findDocker() ?? 'docker';

/** Why the comparison tests cannot run here, or false. */
export function compatSkipReason(): string | false {
  if (!existsSync(DOCKER)) return 'the stock docker CLI is not installed (no docker on PATH)';
  if (!isRoot()) return 'needs root (the manager socket and state are root-only)';
  return false;
}

export type Kind = 'secret' | 'config';

export interface Compat {
  m: ManagerHandle;
  dir: string;
  docker(args: string[], input?: string | Buffer): Promise<CliResult>;
  ours(args: string[], input?: string | Buffer): Promise<CliResult>;
  file(name: string, content: string | Buffer): string;
  /** API helpers used to set the scene between the two runs. */
  create(kind: Kind, name: string, data?: string, labels?: Record<string, string>): Promise<string>;
  remove(kind: Kind, ref: string): Promise<void>;
  get(kind: Kind, ref: string): Promise<Record<string, unknown> | null>;
  ids(kind: Kind): Promise<string[]>;
  cleanup(): void;
}

export function compat(m: ManagerHandle): Compat {
  const dir = mkdtempSync(join(tmpdir(), 'rs-compat-'));
  const dockerConfig = join(dir, 'docker-config');
  writeFileSync(join(dir, '.keep'), '');
  const base = (kind: Kind): string => (kind === 'secret' ? '/secrets' : '/configs');
  return {
    m,
    dir,
    docker: (args, input) => runDocker(args, { DOCKER_HOST: m.dockerHost, DOCKER_CONFIG: dockerConfig }, input),
    ours: (args, input) => runCli(args, { input, env: { RUNSECRETS_HOST: m.dockerHost } }),
    file(name, content) {
      const p = join(dir, name);
      writeFileSync(p, content);
      return p;
    },
    async create(kind, name, data = 'payload', labels = {}) {
      const r = await request(m.socket, 'POST', `${base(kind)}/create`, {
        Name: name,
        Labels: labels,
        Data: Buffer.from(data).toString('base64'),
      });
      if (r.status !== 201 && r.status !== 200) throw new Error(`create ${name}: ${r.status} ${r.text}`);
      return (r.json as { ID: string }).ID;
    },
    async remove(kind, ref) {
      await request(m.socket, 'DELETE', `${base(kind)}/${encodeURIComponent(ref)}`);
    },
    async get(kind, ref) {
      const r = await request(m.socket, 'GET', `${base(kind)}/${encodeURIComponent(ref)}`);
      return r.status === 200 ? (r.json as Record<string, unknown>) : null;
    },
    async ids(kind) {
      const r = await request(m.socket, 'GET', base(kind));
      return (r.json as Array<{ ID: string }>).map((o) => o.ID);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function runDocker(args: string[], env: Record<string, string>, input?: string | Buffer): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * docker's usage errors name the program and exit 125 for flag errors; ours name `runsecrets` and exit 1 (the
 * project's rule: 1 on any error). Everything else must be identical.
 */
export function asOurs(d: CliResult): CliResult {
  return {
    code: d.code === 125 ? 1 : d.code,
    stdout: d.stdout,
    stderr: d.stderr.replace(/\bdocker\b/g, 'runsecrets'),
  };
}

export interface SameOptions {
  input?: string | Buffer;
  /** Puts the manager in the same state before each of the two runs (for commands that change it). */
  setup?: () => Promise<void>;
  /** Compare after this mapping of both results (e.g. a created ID). */
  normalize?: (r: CliResult) => CliResult;
  /** The comparison tests in usage errors map docker's program name and flag-error exit code. */
  usage?: boolean;
  /** Creation times (epoch ms) of the listed objects: both runs start just after their ages tick a second. */
  anchors?: number[];
}

/**
 * Polls until every anchor's age is just past a whole second (30-250 ms into it), so that the two CLIs, started
 * together, read the same "N seconds ago" unless one of them takes most of a second to start.
 */
export async function justAfterTick(anchors: number[]): Promise<void> {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const now = Date.now();
    if (anchors.every((a) => {
      const phase = (now - a) % 1000;
      return phase >= 30 && phase <= 250;
    })) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}


const DURATION = /(?:Less than a second|About a minute|About an hour|\d+ (?:seconds?|minutes|hours|days|weeks|months|years)) ago/g;

/**
 * The last resort for tables with relative times: every duration becomes one token and runs of 2+ spaces (the
 * tabwriter's alignment, which depends on the durations' widths) become one tab. Used only when several
 * back-to-back attempts all straddled a second.
 */
export function maskDurations(r: CliResult): CliResult {
  return { ...r, stdout: r.stdout.replace(DURATION, '<T> ago').replace(/ {2,}/g, '\t').replace(/[ \t]+\n/g, '\n') };
}

/**
 * Runs docker and runsecrets with the same arguments and compares. Without a setup step both run at the same
 * moment, so relative times ("2 seconds ago") rarely differ; when they do, the pair is taken again, and after a
 * few attempts the comparison masks the durations only (and says so).
 */
export async function same(t: Test, c: Compat, args: string[], opts: SameOptions = {}): Promise<CliResult> {
  let d: CliResult | undefined;
  let r: CliResult | undefined;
  const norm = opts.normalize ?? ((x: CliResult) => x);
  const attempts = 5;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (opts.setup) {
      await opts.setup();
      d = await c.docker(args, opts.input);
      await opts.setup();
      r = await c.ours(args, opts.input);
    } else {
      if (opts.anchors) await justAfterTick(opts.anchors);
      [d, r] = await Promise.all([c.docker(args, opts.input), c.ours(args, opts.input)]);
    }
    d = norm(opts.usage ? asOurs(d) : d);
    r = norm(r);
    if (JSON.stringify(d) === JSON.stringify(r)) break;
    const timed = DURATION.test(d.stdout + r.stdout);
    DURATION.lastIndex = 0;
    if (!timed) break;
    if (attempt === attempts) {
      t.comment(`${args.join(' ')}: relative times kept straddling a second; compared with durations masked`);
      d = maskDurations(d);
      r = maskDurations(r);
    }
  }
  t.same(r, d, `runsecrets ${args.join(' ')}  ==  docker`);
  return d!;
}

/** A 25-character ID followed by a newline, as `create` prints it. */
export const ID_LINE = /^[0-9a-z]{25}\n$/;

export function idToken(r: CliResult): CliResult {
  return { ...r, stdout: r.stdout.replace(/^[0-9a-z]{25}\n$/, '<ID>\n') };
}

/** An object's inspect JSON without what differs between two creations (ID, times, version). */
export function specOf(obj: Record<string, unknown> | null): unknown {
  if (!obj) return null;
  return { keys: Object.keys(obj), Spec: obj.Spec };
}
