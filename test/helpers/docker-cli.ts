// The stock docker CLI against a runsecrets manager: its own empty config dir (no user contexts, no hints), stdout
// and stderr collected, optional stdin.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliResult } from './manager.js';

export interface DockerCli {
  /** With stopAfterMs, the CLI is interrupted (SIGINT) then, e.g. to end a --follow; what it printed is kept. */
  run(dockerHost: string, args: string[], input?: string, stopAfterMs?: number): Promise<CliResult>;
  /** Removes the config dir. */
  cleanup(): void;
}

export function dockerCli(): DockerCli {
  const config = mkdtempSync(join(tmpdir(), 'rs-dockercfg-'));
  return {
    run: (dockerHost, args, input, stopAfterMs) =>
      new Promise((resolve, reject) => {
        const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: dockerHost, DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false' };
        delete env.DOCKER_CONTEXT;
        const c = spawn('docker', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        const timer = stopAfterMs === undefined ? null : setTimeout(() => c.kill('SIGINT'), stopAfterMs);
        c.on('error', reject);
        c.on('close', (code) => {
          if (timer) clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
        c.stdin.end(input);
      }),
    cleanup: () => rmSync(config, { recursive: true, force: true }),
  };
}
