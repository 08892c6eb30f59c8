// Starts a real manager-connected agent process (`runsecrets agent run --manager …`) on a temporary mount and state
// dir, for end-to-end tests. The first start joins with the token; later starts reuse the kept identity.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { collectJsonLines, waitFor } from './wait.js';
import { runsecretsArgv } from './env.js';
import { BIN, forceUnmount } from './agent.js';
import { TaskRecords } from '../../agent/executor/task-records.js';
import { abortFuseConnection } from '../../agent/fs/mount.js';
import { mountAt } from '../../agent/fs/mountinfo.js';
import { createLogger } from '../../shared/log.js';

export interface ManagedAgentProc {
  dir: string;
  mount: string;
  stateDir: string;
  hostname: string;
  proc: ChildProcess | null;
  /** The agent's control socket (`task exec`). */
  socket: string;
  /**
   * Runs `runsecrets task exec --state-dir STATE ARGS` (ARGS: options, TASK, command); `input` is piped to its stdin,
   * `uid` runs it as that user (setpriv), `timeoutMs` kills it (default 60 s).
   */
  exec(args: string[], o?: { input?: string | Buffer; uid?: number; timeoutMs?: number }): Promise<ExecResult>;
  logs(): Array<Record<string, unknown>>;
  waitLog(pred: (l: Record<string, unknown>) => boolean, from?: number, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** (Re)starts the process; resolves once it is connected to the manager. */
  start(token?: string): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  cleanup(): Promise<void>;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ManagedAgentOptions {
  managerPort: number;
  hostname: string;
  labels?: string[];
  /** The manager's address as the agent dials it (default 127.0.0.1). */
  managerHost?: string;
  /** Wraps the command, e.g. NetnsHandle.wrap to run the agent in a network namespace. */
  wrap?: (cmd: string, args: string[]) => [string, string[]];
  /** Extra arguments for `agent run` (e.g. ['--metrics-listen', '127.0.0.1:0']). */
  extraArgs?: string[];
  /** The task runtime (default process: the tests' tasks are host commands, not images). */
  runtime?: 'oci' | 'process';
}

export function managedAgent(opts: ManagedAgentOptions): ManagedAgentProc {
  const dir = mkdtempSync(join(tmpdir(), 'rs-magent-'));
  chmodSync(dir, 0o755); // task users must reach the mount inside
  const mount = join(dir, 'mnt');
  const stateDir = join(dir, 'state');
  mkdirSync(mount);
  const lines: Array<Record<string, unknown>> = [];
  let exited: Promise<number | null> = Promise.resolve(null);
  const a: ManagedAgentProc = {
    dir,
    mount,
    stateDir,
    hostname: opts.hostname,
    proc: null,
    socket: join(stateDir, 'agent.sock'),
    exec(args, o = {}) {
      const [cmd, argv] = runsecretsArgv(BIN, ['task', 'exec', '--state-dir', stateDir, ...args]);
      const full = o.uid === undefined ? [cmd, ...argv] : ['setpriv', `--reuid=${o.uid}`, `--regid=${o.uid}`, '--clear-groups', '--', cmd, ...argv];
      return new Promise((resolve, reject) => {
        const c = spawn(full[0]!, full.slice(1), { stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        c.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        c.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => c.kill('SIGKILL'), o.timeoutMs ?? 60_000);
        c.once('error', reject);
        c.once('close', (code, sig) => {
          clearTimeout(timer);
          resolve({ code: code ?? (sig ? -1 : null), stdout, stderr });
        });
        if (o.input !== undefined) c.stdin!.end(o.input);
      });
    },
    logs: () => lines,
    waitLog: (pred, from = 0, timeoutMs = 15000) => waitFor('agent log line', () => lines.slice(from).find(pred), { timeoutMs }),
    async start(token) {
      const args = ['agent', 'run', '--manager', `${opts.managerHost ?? '127.0.0.1'}:${opts.managerPort}`, '--mount', mount, '--state-dir', stateDir,
        '--hostname', opts.hostname, '--log-level', 'debug', '--runtime', opts.runtime ?? 'process', ...(opts.labels ?? []).flatMap((l) => ['--label', l]), ...(opts.extraArgs ?? [])];
      // Never on argv (the agent refuses it): a 0600 file, removed once the agent has joined.
      const tokenFile = join(dir, 'join-token');
      if (token) {
        writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
        args.push('--token-file', tokenFile);
      }
      const [cmd, argv] = (opts.wrap ?? ((c: string, v: string[]): [string, string[]] => [c, v]))(...runsecretsArgv(BIN, args));
      const proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
      a.proc = proc;
      collectJsonLines(proc.stderr!, lines);
      exited = new Promise((res) => proc.once('close', (code, sig) => res(code ?? (sig ? -1 : null)))); // 'close': its last log lines read
      const from = lines.length;
      await Promise.race([
        a.waitLog((l) => l.msg === 'connected to the manager' || l.level === 'fatal', from),
        exited.then((c) => {
          throw new Error(`agent exited early (${String(c)}): ${JSON.stringify(lines.slice(from))}`);
        }),
      ]);
      rmSync(tokenFile, { force: true });
      const fatal = lines.slice(from).find((l) => l.level === 'fatal');
      if (fatal) throw new Error(`agent failed: ${JSON.stringify(fatal)}`);
    },
    async stop(signal = 'SIGTERM') {
      const p = a.proc;
      if (!p) return null;
      if (p.exitCode === null && p.signalCode === null) p.kill(signal);
      const code = await exited;
      a.proc = null;
      return code;
    },
    async cleanup() {
      await a.stop();
      forceUnmount(mount);
      await killLeftoverTasks(stateDir);
    },
  };
  return a;
}

/**
 * Teardown that cannot hang: SIGCONT (a test may have left it stopped), SIGTERM, and if it has not exited within
 * timeoutMs (a deadlocked agent, or one whose mount another namespace holds), abort its FUSE connection so stuck
 * lookups fail, then SIGKILL; the mount is removed in any case.
 */
export async function stopOrKill(ag: ManagedAgentProc, timeoutMs = 15_000): Promise<void> {
  const p = ag.proc;
  if (p && p.exitCode === null && p.signalCode === null) {
    p.kill('SIGCONT');
    const stopped = ag.stop();
    try {
      await waitFor('the agent to exit', () => p.exitCode !== null || p.signalCode !== null, { timeoutMs, intervalMs: 50 });
    } catch {
      const majMin = mountAt(ag.mount)?.majMin;
      if (majMin) await abortFuseConnection(majMin);
      p.kill('SIGKILL');
    }
    await stopped;
  }
  forceUnmount(ag.mount);
  await killLeftoverTasks(ag.stateDir);
}

/**
 * Kills the task processes an agent that did not stop cleanly (SIGKILL, a crash) left behind: they lead their own
 * process groups and would outlive the test (the next agent on that state dir would kill them; there is none).
 * Uses the agent's own records (tasks.pids.json), so only that agent's tasks are touched.
 */
export async function killLeftoverTasks(stateDir: string): Promise<number> {
  if (!existsSync(stateDir)) return 0;
  const { killed } = await new TaskRecords(stateDir).killPreviousLife(createLogger('test', 'silent'), 5_000);
  return killed;
}
