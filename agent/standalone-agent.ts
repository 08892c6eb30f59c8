// Wires the standalone agent: stale-mount check, secret tree, FUSE mount, manifest watcher, clean shutdown.
import { resolve } from 'node:path';
import type { Logger } from '../shared/log.js';
import { errorMessage } from '../shared/errors.js';
import { SecretTree } from './secretstore/tree.js';
import { SecretFs } from './fs/secret-fs.js';
import { clearStaleMount } from './fs/stale-mount.js';
import { StandaloneTasks } from './local/standalone.js';
import { disableCoreDumps } from './hardening.js';

export interface StandaloneAgentOptions {
  tasksDir: string;
  mountPoint: string;
  log: Logger;
}

export interface RunningAgent {
  tree: SecretTree;
  stop(): Promise<void>;
}

export async function startStandaloneAgent(opts: StandaloneAgentOptions): Promise<RunningAgent> {
  const mountPoint = resolve(opts.mountPoint);
  const log = opts.log;
  disableCoreDumps(log);
  await clearStaleMount(mountPoint, log);
  const tree = new SecretTree();
  const fs = new SecretFs({ mountPoint, tree, log });
  await fs.mount();
  const tasks = new StandaloneTasks({ tasksDir: opts.tasksDir, tree, log, publish: (n) => fs.publish(n) });
  try {
    await tasks.start();
  } catch (err) {
    await fs.unmount().catch(() => {});
    tree.wipeAll();
    throw err;
  }
  let stopping: Promise<void> | null = null;
  return {
    tree,
    stop: () =>
      (stopping ??= (async () => {
        await tasks.stop().catch((err) => log.error({ err: errorMessage(err) }, 'stopping the watcher failed'));
        try {
          await fs.unmount();
        } finally {
          tree.wipeAll(); // bytes zeroed even when the unmount failed
        }
      })()),
  };
}
