// What the `runsecrets manager …` command modules share: docker's error printing, the --socket option, and reading
// an unlock key from stdin or a file.
import { Option } from 'commander';
import { readFileSync } from 'node:fs';
import { errorMessage } from '../shared/errors.js';
import { DaemonError, DEFAULT_SOCKET } from './manager-admin.js';

/** Prints an error as docker does (daemon errors prefixed) and sets exit status 1. */
export function fail(err: unknown): void {
  const msg = err instanceof DaemonError ? `Error response from daemon: ${err.message}` : `Error: ${errorMessage(err)}`;
  process.stderr.write(msg + '\n');
  process.exitCode = 1;
}

export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      fail(err);
    }
  };
}

export function socketOption(): Option {
  return new Option('--socket <path>', "the manager's Unix socket").default(DEFAULT_SOCKET);
}

export function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => {
      chunks.push(c);
      if (Buffer.concat(chunks).includes(0x0a)) process.stdin.pause(); // one line is the key
    });
    process.stdin.on('pause', () => resolve(Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? ''));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? ''));
    process.stdin.on('error', reject);
  });
}

/** The unlock key from a file (its first line): for unattended boot, e.g. a systemd credential. */
export function readKeyFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the unlock key file ${path}: ${errorMessage(err)}`);
  }
  const key = (text.split('\n')[0] ?? '').trim();
  if (key === '') throw new Error(`the unlock key file ${path} is empty`);
  return key;
}

