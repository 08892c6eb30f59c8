// `runsecrets agent run …`: the host agent, either joined to a manager (--manager, --token-file) or --standalone.
import { Command, Option } from 'commander';
import { createLogger, flushLogs, isLogLevel, LOG_LEVELS } from '../shared/log.js';
import { errorMessage } from '../shared/errors.js';
import { hostname } from 'node:os';
import { parseLogFileCount, parseLogSize } from '../agent/logs/index.js';
import { DEFAULT_STATE_DIR, parseManagerAddr } from '../agent/session/join.js';
import { tokenSource } from './join-token-source.js';
import { notifyReady } from '../shared/sd-notify.js';
import { CONFIG_DIR, withConfigFile } from './config-file.js';
import { isRuntimeName, RUNTIME_NAMES } from '../agent/runtime/select.js';
import { addRegistryOptions, registryRulesOf, type RegistryFlags } from './registry-options.js';

interface RunOpts extends RegistryFlags {
  standalone?: boolean;
  tasksDir?: string;
  manager: string[];
  token?: string;
  tokenFile?: string;
  stateDir: string;
  hostname?: string;
  label: string[];
  mount: string;
  metricsListen?: string;
  engineSocket?: string;
  logMaxSize?: string;
  logMaxFile?: string;
  runtime?: string;
  logLevel: string;
}

function collectRepeated(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function parseLabels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    const k = i < 0 ? l : l.slice(0, i);
    if (k === '') throw new Error(`invalid --label "${l}": expected KEY=VALUE`);
    out[k] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}

async function run(opts: RunOpts): Promise<void> {
  // First: the environment's token leaves process.env before anything else runs, and argv tokens are refused.
  const tokens = tokenSource({ ...(opts.token !== undefined ? { token: opts.token } : {}), ...(opts.tokenFile !== undefined ? { tokenFile: opts.tokenFile } : {}) });
  if (!isLogLevel(opts.logLevel)) throw new Error(`invalid --log-level ${JSON.stringify(opts.logLevel)}`);
  if (opts.standalone && opts.manager.length > 0) throw new Error('--standalone and --manager exclude each other');
  if (!opts.standalone && opts.manager.length === 0) {
    throw new Error('pass --manager HOST:PORT (with --token-file FILE on the first run) or --standalone --tasks-dir DIR');
  }
  if (opts.standalone && !opts.tasksDir) throw new Error('--standalone needs --tasks-dir DIR');
  const runtime = opts.runtime;
  if (runtime !== undefined && !isRuntimeName(runtime)) throw new Error(`invalid --runtime ${JSON.stringify(runtime)}: expected ${RUNTIME_NAMES.join(' or ')}`);
  if (runtime !== undefined && opts.standalone) throw new Error('--runtime is for an agent with a manager (--standalone runs no tasks)');
  const registry = registryRulesOf(opts); // dockerd's texts for a bad --insecure-registry / --registry-mirror
  const managers = opts.manager.map((m) => parseManagerAddr(m));
  const manager = managers.length > 0;
  const labels = parseLabels(opts.label);
  const log = createLogger('agent', opts.logLevel);
  if (tokens.warning) log.warn(tokens.warning);
  let token = manager ? await tokens.read() : undefined;
  // Signals are taken from the first moment: one that arrives while the agent is still starting (its mount may
  // already be up) stops it as soon as the start is done, instead of killing the process with the mount in place.
  let agent: { stop(): Promise<void>; synced?: Promise<void> } | null = null;
  let pending: string | null = null;
  const shutdown = (signal: string): void => {
    if (!agent) {
      pending ??= signal;
      return;
    }
    log.info({ signal }, 'shutting down');
    agent
      .stop()
      .then(
        () => 0,
        (err) => {
          log.fatal({ err: errorMessage(err) }, 'clean shutdown failed');
          return 1;
        },
      )
      .then(async (code) => {
        await flushLogs();
        process.exit(code);
      });
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  try {
    // Each mode loads only its own code: a standalone agent never pays for the session, runtimes and engine API.
    agent = manager
      ? await (await import('../agent/managed-agent.js')).startManagedAgent({
          managers,
          ...(token ? { token } : {}),
          stateDir: opts.stateDir,
          mountPoint: opts.mount,
          hostname: opts.hostname ?? hostname(),
          labels,
          log,
          registry,
          ...(opts.metricsListen ? { metricsListen: opts.metricsListen } : {}),
          ...(opts.engineSocket ? { engineSocket: opts.engineSocket } : {}),
          taskLogRotation: {
            ...(opts.logMaxSize !== undefined ? { maxSize: parseLogSize(opts.logMaxSize) } : {}),
            ...(opts.logMaxFile !== undefined ? { maxFile: parseLogFileCount(opts.logMaxFile) } : {}),
          },
          ...(runtime !== undefined ? { runtime } : {}),
        })
      : await (await import('../agent/standalone-agent.js')).startStandaloneAgent({ tasksDir: opts.tasksDir ?? '', mountPoint: opts.mount, log, ...(opts.metricsListen ? { metricsListen: opts.metricsListen } : {}) });
    token = undefined; // used once: the node's identity is now its certificate
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, 'agent failed to start');
    process.exitCode = 1;
    return;
  }
  if (pending) shutdown(pending);
  else {
    // Ready for systemd once the mount is up and, with a manager, its first full state is applied.
    void (agent.synced ?? Promise.resolve()).then(() => notifyReady(log, manager ? 'mounted; in session with the manager' : 'mounted; manifests loaded'));
  }
  process.on('SIGHUP', () => log.info(manager ? 'SIGHUP ignored' : 'SIGHUP ignored: manifests are watched'));
}

export function agentCommand(): Command {
  const agent = new Command('agent').description('Run the runsecrets agent on this host');
  const runCmd = agent
    .command('run')
    .description('Mount the secrets filesystem and serve the tasks of this host')
    .option('--standalone', 'no manager: tasks come from manifests in --tasks-dir')
    .option('--tasks-dir <dir>', 'folder of task manifests (.yaml, .yml, .json) for --standalone')
    .option(
      '--manager <host:port>',
      "a manager's TCP address (mutual TLS); repeatable: the agent joins through the first that answers, keeps the cluster's list of managers in its state dir and moves to another when its manager fails",
      collectRepeated,
      [] as string[],
    )
    .option('--token-file <file>', 'file holding the join token (RSTKN-1-…), needed on the first run only; or set RUNSECRETS_TOKEN')
    .option('--token <->', '"--token -" reads the join token from stdin (a token value on the command line is refused: every user can read argv)')
    .option('--state-dir <dir>', 'where the node key and certificate are kept (0600)', DEFAULT_STATE_DIR)
    .option('--hostname <name>', "node hostname reported to the manager (default: this host name); the node's own claim, like --label")
    .option(
      '--label <key=value>',
      "engine label (repeatable), reported when joining: the node's own claim (engine.labels.KEY), untrusted; node.labels are set only by a manager (node update --label-add)",
      collectRepeated,
      [] as string[],
    )
    .option('--mount <dir>', 'where to mount the secrets filesystem', '/run/secrets')
    .option('--runtime <name>', 'how tasks run: oci (containers from their images, with runc) or process (host processes in their own namespaces); default: oci where runc is installed, else process')
    .option('--metrics-listen <addr:port>', 'serve /metrics, /healthz and /readyz over plain HTTP here, e.g. 127.0.0.1:9478 (default: off)')
    .option('--engine-socket <path>', "the node's own Docker API socket (docker ps/exec/logs for this node's tasks; root only), or none (default: STATE-DIR/docker.sock)")
    .option('--log-max-size <size>', "each task's output log is rotated at this size, as Docker's json-file max-size (k, m, g; default 10m)")
    .option('--log-max-file <n>', 'rotated task log files kept, the current one included, as Docker\'s max-file (default 3)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS as string[]).default('info'));
  addRegistryOptions(runCmd).action(async (opts: RunOpts) => {
    try {
      await run(opts);
    } catch (err) {
      process.stderr.write(`Error: ${errorMessage(err)}\n`);
      process.exitCode = 1;
    }
  });
  withConfigFile(runCmd, `${CONFIG_DIR}/agent.yaml`);
  return agent;
}
