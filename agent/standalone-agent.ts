// Wires the standalone agent: stale-mount check, secret tree, FUSE mount, manifest watcher, clean shutdown.
import { resolve } from 'node:path';
import type { Logger } from '../shared/log.js';
import { errorMessage } from '../shared/errors.js';
import { SecretTree } from './secretstore/tree.js';
import { SecretFs } from './fs/secret-fs.js';
import { clearStaleMount } from './fs/stale-mount.js';
import { StandaloneTasks } from './local/standalone.js';
import { disableCoreDumps } from './hardening.js';
import { startMetricsServer, type MetricsServer } from '../shared/metrics/server.js';
import { agentRegistry } from './metrics.js';

export interface StandaloneAgentOptions {
  tasksDir: string;
  mountPoint: string;
  log: Logger;
  /** HOST:PORT for /metrics, /healthz and /readyz; absent: none. */
  metricsListen?: string;
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
  let metrics: MetricsServer | null = null;
  try {
    await tasks.start();
    if (opts.metricsListen) {
      const registry = agentRegistry({ mode: 'standalone', taskFolders: () => tree.taskNames().length, inodes: () => tree.inodeCount });
      metrics = await startMetricsServer({ listen: opts.metricsListen, registry, notReady: () => null, log });
    }
  } catch (err) {
    await tasks.stop().catch(() => {});
    await fs.unmount().catch(() => {});
    tree.wipeAll();
    throw err;
  }
  let stopping: Promise<void> | null = null;
  return {
    tree,
    stop: () =>
      (stopping ??= (async () => {
        await metrics?.close();
        await tasks.stop().catch((err) => log.error({ err: errorMessage(err) }, 'stopping the watcher failed'));
        try {
          await fs.unmount();
        } finally {
          tree.wipeAll(); // bytes zeroed even when the unmount failed
        }
      })()),
  };
}
