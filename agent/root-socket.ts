// The agent's root-only Unix sockets (the control socket, the node's Engine API): whoever reaches one can exec into
// tasks. A socket left by a killed agent is replaced; one that still answers means another agent uses this state
// dir, and is refused. The new socket is made 0600 in a fresh 0700 folder and only then renamed into place, so it
// is never reachable with a wider mode, whatever folder the path is in (a connection goes by the socket's inode,
// which the rename keeps). Removed on close only if it is still ours.
import net from 'node:net';
import { chmodSync, lstatSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../shared/log.js';
import { errorMessage } from '../shared/errors.js';

/** Whether something answers on the socket at path (false when nothing listens there). */
function answers(path: string, what: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const c = net.connect(path);
    const timer = setTimeout(() => {
      c.destroy();
      resolve(true); // accepted but silent still means a live listener
    }, 1000);
    c.once('connect', () => {
      clearTimeout(timer);
      c.destroy();
      resolve(true);
    });
    c.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(new Error(`cannot check the existing ${what} ${path}: ${err.message}`));
    });
  });
}

async function clearStale(path: string, what: string, log: Logger): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket: refusing to replace it`);
  if (await answers(path, what)) throw new Error(`another agent is serving the ${what} ${path} (same --state-dir?)`);
  unlinkSync(path);
  log.info({ socket: path }, `replaced a stale ${what}`);
}

export interface RootSocket {
  /** Removes the socket file if it is still the one we made (a newer agent may have replaced it meanwhile). */
  unlink(): void;
}

/** Binds server at path, root-only (see above); `what` names it in errors and logs ("control socket"). */
export async function listenRootOnly(server: net.Server, path: string, what: string, log: Logger): Promise<RootSocket> {
  await clearStale(path, what, log);
  const privateDir = mkdtempSync(join(dirname(path), '.agent-sock-'));
  const bound = join(privateDir, 's');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bound, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(bound, 0o600);
    renameSync(bound, path);
  } catch (err) {
    server.close();
    throw new Error(`cannot create the ${what} ${path}: ${errorMessage(err)}`);
  } finally {
    rmSync(privateDir, { recursive: true, force: true });
  }
  const ino = lstatSync(path).ino;
  server.on('error', (err) => log.error({ err: errorMessage(err), socket: path }, `${what} error`));
  log.info({ socket: path }, `${what} listening`);
  return {
    unlink: () => {
      try {
        if (lstatSync(path).ino === ino) unlinkSync(path);
      } catch {
        /* already gone */
      }
    },
  };
}
