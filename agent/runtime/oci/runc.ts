// runc, with the runtime's own state root (--root) so that its containers are apart from any other runc user's,
// as argv lists. `run` stays in the foreground as the container's parent: it reaps the container's init and exits
// with its status (128+N for signal N), which is how the runtime learns a task's exit code.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface RuncContainer {
  id: string;
  pid: number;
  status: string;
}

export class Runc {
  constructor(readonly path: string, readonly root: string) {}

  private async call(args: string[], timeoutMs = 30_000): Promise<string> {
    const { stdout } = await exec(this.path, ['--root', this.root, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return stdout;
  }

  /** argv (after the program) of a foreground run of bundle as container id. */
  runArgs(id: string, bundle: string, pidFile: string, logFile: string): string[] {
    return ['--root', this.root, '--log', logFile, '--log-format', 'json', 'run', '--bundle', bundle, '--pid-file', pidFile, id];
  }

  /** argv (after the program) of `runc exec` without a terminal: the caller's stdio (pipes, or a pty) is the process's. */
  execArgs(id: string, o: { user?: string; cwd?: string; env: string[]; argv: string[] }): string[] {
    return [
      '--root', this.root, 'exec',
      ...(o.user !== undefined ? ['--user', o.user] : []),
      ...(o.cwd !== undefined ? ['--cwd', o.cwd] : []),
      ...o.env.flatMap((e) => ['--env', e]),
      id, ...o.argv,
    ];
  }

  async list(): Promise<RuncContainer[]> {
    const out = await this.call(['list', '--format', 'json']);
    return parseList(out);
  }

  async kill(id: string, signal: string): Promise<void> {
    await this.call(['kill', id, signal]);
  }

  /** Deletes the container, killing it first if it still runs (runc waits for it to stop). */
  async deleteForce(id: string): Promise<void> {
    await this.call(['delete', '--force', id], 60_000);
  }
}

/** `runc list --format json` prints null for none. */
export function parseList(out: string): RuncContainer[] {
  const doc: unknown = JSON.parse(out.trim() === '' ? 'null' : out);
  if (doc === null) return [];
  if (!Array.isArray(doc)) throw new Error('runc list: not a JSON list');
  const res: RuncContainer[] = [];
  for (const c of doc as unknown[]) {
    if (typeof c !== 'object' || c === null) continue;
    const o = c as Record<string, unknown>;
    if (typeof o.id !== 'string') continue;
    res.push({ id: o.id, pid: typeof o.pid === 'number' ? o.pid : 0, status: typeof o.status === 'string' ? o.status : '' });
  }
  return res;
}

/** The last error runc logged (its --log file, JSON lines), without runc's "runc run failed: " prefix. */
export async function lastRuncError(logFile: string): Promise<string | null> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  let last: string | null = null;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const doc: unknown = JSON.parse(line);
      if (typeof doc !== 'object' || doc === null) continue;
      const o = doc as Record<string, unknown>;
      if ((o.level === 'error' || o.level === 'fatal') && typeof o.msg === 'string') last = o.msg;
    } catch {
      /* not one of runc's lines */
    }
  }
  return last === null ? null : last.replace(/^runc run failed: /, '');
}
