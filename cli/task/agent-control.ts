// The CLI's side of the agent's control socket (agent/control/protocol.ts): one request line, one answer line.
import net from 'node:net';
import { CONTROL_VERSION, MAX_REQUEST_BYTES, type ControlAnswer, type ExecCommandRequest, type ExecTarget } from '../../agent/control/protocol.js';

/** An error of ours (not the command's): printed as "Error: …", exit 1. */
export class ExecError extends Error {
  override name = 'ExecError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

function unreachable(path: string, err: NodeJS.ErrnoException): ExecError {
  const why: Record<string, string> = {
    ENOENT: 'no such socket (is the agent running? pass --state-dir or --agent-socket)',
    EACCES: 'permission denied (the control socket is root-only: run as root)',
    EPERM: 'permission denied (the control socket is root-only: run as root)',
    ECONNREFUSED: 'connection refused (no agent listens there: a socket left by a stopped agent?)',
    ENOTSOCK: 'not a socket',
  };
  return new ExecError(`cannot reach the agent at ${path}: ${why[err.code ?? ''] ?? err.message}`);
}

/** Asks the agent which process runs the task (and, for a container, the runc exec that runs `exec` in it); throws
 * ExecError with the agent's or the connection's reason. */
export function askExecTarget(path: string, task: string, exec?: ExecCommandRequest, timeoutMs = 10_000): Promise<ExecTarget> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let buf = '';
    let settled = false;
    const done = (err: Error | null, t?: ExecTarget): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(t!);
    };
    const timer = setTimeout(() => done(new ExecError(`cannot reach the agent at ${path}: no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.once('connect', () => sock.write(JSON.stringify({ v: CONTROL_VERSION, op: 'exec-target', task, exec }) + '\n'));
    sock.on('error', (err: NodeJS.ErrnoException) => done(unreachable(path, err)));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST_BYTES * 16) done(new ExecError(`the agent at ${path} sent an answer too long`));
    });
    sock.on('end', () => {
      let a: ControlAnswer;
      try {
        a = JSON.parse(buf.split('\n')[0] ?? '') as ControlAnswer;
      } catch {
        done(new ExecError(`the agent at ${path} sent an answer that is not JSON`));
        return;
      }
      if (a.v !== CONTROL_VERSION) done(new ExecError(`the agent at ${path} speaks control protocol version ${String(a.v)}, not ${CONTROL_VERSION}`));
      else if (!a.ok) done(new ExecError(a.error));
      else done(null, a.target);
    });
  });
}
