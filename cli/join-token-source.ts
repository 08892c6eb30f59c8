// Where `agent run` takes its join token from: a file (--token-file), the environment (RUNSECRETS_TOKEN) or stdin
// (--token -). Never from argv: /proc/PID/cmdline is readable by every user and task of the host for the agent's
// whole life. The token is only needed for the first join; after it the node's identity is its certificate.
import { readFileSync, statSync } from 'node:fs';

export const TOKEN_ENV = 'RUNSECRETS_TOKEN';

export const ARGV_TOKEN_REFUSED =
  '--token with a value is refused: a token on the command line is readable by every user and task of this host ' +
  '(/proc/PID/cmdline) for as long as the agent runs. Give it with --token-file FILE (mode 0600), ' +
  `${TOKEN_ENV}=… in the environment, or --token - to read it from stdin`;

export interface TokenSourceOptions {
  token?: string;
  tokenFile?: string;
}

export interface TokenSource {
  /** The token, or undefined when none was given (a node that already joined needs none). */
  read(): Promise<string | undefined>;
  /** What to warn about (a token file others can read), if anything. */
  warning?: string;
}

function readStdinAll(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function firstLine(text: string, from: string): string {
  const t = (text.split('\n')[0] ?? '').trim();
  if (t === '') throw new Error(`no join token in ${from}`);
  return t;
}

/**
 * Picks the token's one source; throws on a token in argv or on two sources. The environment variable is removed
 * from process.env at once, whatever is used, so that nothing this process starts inherits it.
 */
export function tokenSource(o: TokenSourceOptions, env: NodeJS.ProcessEnv = process.env): TokenSource {
  const fromEnv = env[TOKEN_ENV];
  delete env[TOKEN_ENV];
  if (o.token !== undefined && o.token !== '-') throw new Error(ARGV_TOKEN_REFUSED);
  const given = [o.token !== undefined, o.tokenFile !== undefined, fromEnv !== undefined].filter(Boolean).length;
  if (given > 1) throw new Error(`give the join token one way only: --token-file, ${TOKEN_ENV} or --token -`);
  if (o.tokenFile !== undefined) {
    const path = o.tokenFile;
    let warning: string | undefined;
    try {
      if ((statSync(path).mode & 0o077) !== 0) warning = `the token file ${path} can be read by other users: chmod 600 it`;
    } catch (err) {
      throw new Error(`cannot read the token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return { read: async () => firstLine(readFileSync(path, 'utf8'), path), ...(warning ? { warning } : {}) };
  }
  if (o.token === '-') return { read: async () => firstLine(await readStdinAll(), 'stdin') };
  if (fromEnv !== undefined) return { read: async () => firstLine(fromEnv, TOKEN_ENV) };
  return { read: async () => undefined };
}
