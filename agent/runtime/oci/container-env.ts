// A container's process environment as dockerd builds it (container.CreateDaemonEnvironment +
// ReplaceOrAppendEnvValues, docker-swarm-wave2.md §1.6): PATH and HOSTNAME first, TERM=xterm with a tty, then the
// merged Config.Env on top: a key already there is replaced in place, a new one appended, a bare "FOO" deletes FOO.
// HOME is left to runc, which sets it from the container's /etc/passwd for the process's uid (or "/"), as Docker.
import { DOCKER_DEFAULT_PATH } from './docker-defaults.js';

function keyOf(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/** moby's ReplaceOrAppendEnvValues. */
export function replaceOrAppendEnv(defaults: string[], overrides: string[]): string[] {
  const out = [...defaults];
  const index = new Map<string, number>();
  out.forEach((e, i) => index.set(keyOf(e), i));
  const deleted = new Set<number>();
  for (const e of overrides) {
    const key = keyOf(e);
    const at = index.get(key);
    if (!e.includes('=')) {
      if (at !== undefined) deleted.add(at);
      continue;
    }
    if (at !== undefined) {
      out[at] = e;
      deleted.delete(at);
    } else {
      index.set(key, out.length);
      out.push(e);
    }
  }
  return out.filter((_, i) => !deleted.has(i));
}

export function containerEnv(configEnv: string[], hostname: string, tty: boolean): string[] {
  const daemon = [`PATH=${DOCKER_DEFAULT_PATH}`, `HOSTNAME=${hostname}`, ...(tty ? ['TERM=xterm'] : [])];
  return replaceOrAppendEnv(daemon, configEnv);
}
