// Runs the stock docker CLI or runsecrets against a fake engine's socket and captures stdout, stderr and code.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/runsecrets');

/** $DOCKER_CLI, else the first docker on PATH, else null. */
export function findDocker(): string | null {
  if (process.env.DOCKER_CLI) return process.env.DOCKER_CLI;
  for (const d of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (d && existsSync(join(d, 'docker'))) return join(d, 'docker');
  }
  return null;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

const dockerConfig = mkdtempSync(join(tmpdir(), 'rs-docker-config-'));

export function runDocker(docker: string, host: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return run(docker, args, {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    DOCKER_HOST: host,
    DOCKER_CONFIG: dockerConfig,
    ...env,
  });
}

/** Our CLI in a plain node: tap's loaders in NODE_OPTIONS are dropped by `env -u` in the child itself. */
export function runOurs(host: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', RUNSECRETS_HOST: host, ...env };
  return run('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, ...args], base);
}

/** docker names itself and exits 125 on flag errors; we name runsecrets and exit 1. Everything else is equal. */
export function asOurs(r: Result): Result {
  return { code: r.code === 125 ? 1 : r.code, stdout: r.stdout, stderr: r.stderr.replace(/\bdocker\b/g, 'runsecrets') };
}
