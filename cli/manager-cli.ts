// What the `runsecrets manager …` command modules share: docker's error printing, the --socket option, and reading
// an unlock key from stdin or a file.
import { Command, Option } from 'commander';
import { resolveEndpoint, type HostOptions } from './client/endpoint.js';
import { readFileSync } from 'node:fs';
import { errorMessage } from '../shared/errors.js';
import { DaemonError, DEFAULT_SOCKET, socketTarget, type AdminTarget } from './manager-admin.js';

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

/** Where an admin command connects: --socket, or -H (with the TLS flags) as the docker-like commands take it. */
export function addAdminConnectOptions(cmd: Command): Command {
  for (const o of adminConnectOptions()) cmd.addOption(o);
  return cmd;
}
export function adminConnectOptions(): Option[] {
  return [
    new Option('--socket <path>', `the manager's Unix socket (default ${DEFAULT_SOCKET})`),
    new Option('-H, --host <host>', 'Manager socket or address (unix:///path, tcp://host:port); env RUNSECRETS_HOST'),
    new Option('--tlscert <path>', 'Path to TLS certificate file'),
    new Option('--tlskey <path>', 'Path to TLS key file'),
    new Option('--tlscacert <path>', 'Trust certs signed only by this CA'),
  ];
}

export type AdminConnectOptions = { socket?: string } & HostOptions;

/** -H, else --socket, else RUNSECRETS_HOST, else the local socket; both -H and --socket is an error. */
export function adminTarget(o: AdminConnectOptions, env: NodeJS.ProcessEnv = process.env): AdminTarget {
  if (o.host && o.socket) throw new Error('conflicting options: either specify --host or --socket, not both');
  if (!o.host && o.socket) return socketTarget(o.socket);
  return resolveEndpoint(o, env);
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

