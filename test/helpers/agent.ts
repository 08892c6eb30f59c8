// Starts a real standalone agent process on a temporary mount, for integration tests.
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { collectJsonLines, waitFor } from './wait.js';
import { runsecretsArgv } from './env.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const BIN = join(REPO, 'bin/runsecrets');

export interface AgentProc {
  dir: string;
  tasksDir: string;
  mount: string;
  proc: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /** Waits for a log line matching pred (counting only lines after `from`). */
  waitLog(pred: (l: Record<string, unknown>) => boolean, from?: number, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export function isMounted(mount: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === mount);
}

export function tempDirs(prefix = 'rs-agent-'): { dir: string; tasksDir: string; mount: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755); // other uids must reach the mount inside
  const tasksDir = join(dir, 'tasks');
  mkdirSync(tasksDir);
  return { dir, tasksDir, mount: join(dir, 'mnt') };
}

export async function startAgent(opts: { dir?: string; tasksDir?: string; mount?: string; extraArgs?: string[] } = {}): Promise<AgentProc> {
  const t = opts.dir ? { dir: opts.dir, tasksDir: opts.tasksDir!, mount: opts.mount! } : tempDirs();
  const [cmd, argv] = runsecretsArgv(BIN, [
    'agent', 'run', '--standalone', '--tasks-dir', t.tasksDir, '--mount', t.mount, '--log-level', 'debug', ...(opts.extraArgs ?? []),
  ]);
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  collectJsonLines(proc.stderr!, lines);
  const exited = new Promise<number | null>((res) => proc.once('close', (code, sig) => res(code ?? (sig ? -1 : null)))); // 'close': its last log lines read
  const agent: AgentProc = {
    ...t,
    proc,
    exited,
    logs: () => lines,
    waitLog: (pred, from = 0, timeoutMs = 5000) =>
      waitFor('agent log line', () => lines.slice(from).find(pred), { timeoutMs }),
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  try {
    await Promise.race([
      agent.waitLog((l) => l.msg === 'standalone tasks loaded' || l.level === 'fatal', 0, 15000),
      exited.then((c) => {
        throw new Error(`agent exited early (${c}): ${JSON.stringify(lines)}`);
      }),
    ]);
    const fatal = lines.find((l) => l.level === 'fatal');
    if (fatal) throw new Error(`agent failed: ${JSON.stringify(fatal)}`);
  } catch (err) {
    // The caller never gets a handle to stop it: do not leave it running.
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    throw err;
  }
  return agent;
}

/** Last resort for teardown: never leave a mount behind, even when a test failed halfway. */
export function forceUnmount(mount: string): void {
  try {
    if (isMounted(mount)) execFileSync('umount', ['-l', mount], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}

/**
 * Reads a file on a mount from a child process: null when it could not within timeoutMs. Never waits for a child
 * that hangs (a reader of a stalled FUSE mount can sit in D state, deaf to SIGKILL, until the agent answers), so a
 * frozen mount fails a test instead of hanging it.
 */
export function readInChild(path: string, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const child = spawn('cat', [path], { stdio: ['ignore', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? Buffer.concat(out) : null);
    });
  });
}
