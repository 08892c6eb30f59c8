// Exec instances (docker exec): created against a running container, started once on a hijacked connection (or
// detached), inspected for their exit code. The command is the runtime's HostCommand, spawned here with pipes, or
// under a pseudo-terminal (pty-exec.py) for a TTY.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import type { ExecRequest, HostCommand } from '../runtime/runtime.js';

export interface ExecInstance {
  id: string;
  containerId: string;
  taskId: string;
  req: ExecRequest;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys: string;
  command: HostCommand;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  child?: ChildProcess;
  resizePipe?: Writable;
  /** The size asked for before the process started (docker exec -t sends it right after start). */
  size?: { rows: number; cols: number };
}

/** Finished instances beyond this many are forgotten, oldest first (Docker keeps them until the container goes). */
const MAX_KEPT = 256;

export function ptyHelper(): string {
  const candidates = [new URL('./pty-exec.py', import.meta.url), new URL('../../../agent/engine-api/pty-exec.py', import.meta.url)];
  for (const u of candidates) {
    const p = fileURLToPath(u);
    if (existsSync(p)) return p;
  }
  throw new Error(`the exec pty helper is missing: looked for ${candidates.map((u) => fileURLToPath(u)).join(' and ')}`);
}

export class ExecStore {
  private readonly execs = new Map<string, ExecInstance>();

  create(e: Omit<ExecInstance, 'id' | 'running' | 'started' | 'exitCode' | 'pid'>): ExecInstance {
    const inst: ExecInstance = { ...e, id: randomBytes(32).toString('hex'), running: false, started: false, exitCode: null, pid: 0 };
    this.execs.set(inst.id, inst);
    this.trim();
    return inst;
  }

  get(id: string): ExecInstance | undefined {
    return this.execs.get(id);
  }

  idsOf(containerId: string): string[] {
    return [...this.execs.values()].filter((e) => e.containerId === containerId).map((e) => e.id);
  }

  /** Spawns the instance's command; resolves with its exit code. */
  spawn(inst: ExecInstance): { child: ChildProcess; done: Promise<number> } {
    inst.started = true;
    const { file, args, env } = inst.command;
    const child = inst.req.tty
      ? spawn('python3', [ptyHelper(), file, ...args], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: env ?? {}, cwd: '/' })
      : spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? {}, cwd: '/' });
    inst.child = child;
    inst.running = true;
    inst.pid = child.pid ?? 0;
    if (inst.req.tty) {
      inst.resizePipe = child.stdio[3] as Writable;
      inst.resizePipe.on('error', () => undefined);
      if (inst.size) this.resize(inst, inst.size.rows, inst.size.cols);
    }
    child.stdin!.on('error', () => undefined); // a command that does not read its input
    const done = new Promise<number>((resolve) => {
      child.once('error', () => {
        inst.running = false;
        inst.exitCode = 126;
        resolve(126);
      });
      child.once('close', (code, sig) => {
        inst.running = false;
        inst.exitCode = code ?? 128 + (sig === 'SIGKILL' ? 9 : sig === 'SIGTERM' ? 15 : 0);
        resolve(inst.exitCode);
      });
    });
    return { child, done };
  }

  resize(inst: ExecInstance, rows: number, cols: number): void {
    inst.size = { rows, cols };
    if (inst.resizePipe && inst.running) inst.resizePipe.write(`${rows} ${cols}\n`);
  }

  private trim(): void {
    if (this.execs.size <= MAX_KEPT) return;
    for (const [id, e] of this.execs) {
      if (this.execs.size <= MAX_KEPT) break;
      if (!e.running) this.execs.delete(id);
    }
  }
}
