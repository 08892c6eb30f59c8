// `runsecrets agent run …`: the host agent. Standalone mode today; the manager-connected mode comes with issue 4.
import { Command, Option } from 'commander';
import { createLogger, isLogLevel, LOG_LEVELS } from '../shared/log.js';
import { errorMessage } from '../shared/errors.js';
import { startStandaloneAgent } from '../agent/standalone-agent.js';

interface RunOpts {
  standalone?: boolean;
  tasksDir?: string;
  mount: string;
  logLevel: string;
}

async function run(opts: RunOpts): Promise<void> {
  if (!isLogLevel(opts.logLevel)) throw new Error(`invalid --log-level ${JSON.stringify(opts.logLevel)}`);
  if (!opts.standalone) throw new Error('only --standalone mode is available: pass --standalone --tasks-dir DIR');
  if (!opts.tasksDir) throw new Error('--standalone needs --tasks-dir DIR');
  const log = createLogger('agent', opts.logLevel);
  let agent;
  try {
    agent = await startStandaloneAgent({ tasksDir: opts.tasksDir, mountPoint: opts.mount, log });
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, 'agent failed to start');
    process.exitCode = 1;
    return;
  }
  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    agent
      .stop()
      .then(() => process.exit(0))
      .catch((err) => {
        log.fatal({ err: errorMessage(err) }, 'clean shutdown failed');
        process.exit(1);
      });
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGHUP', () => log.info('SIGHUP ignored: manifests are watched'));
}

export function agentCommand(): Command {
  const agent = new Command('agent').description('Run the runsecrets agent on this host');
  agent
    .command('run')
    .description('Mount the secrets filesystem and serve the tasks of this host')
    .option('--standalone', 'no manager: tasks come from manifests in --tasks-dir')
    .option('--tasks-dir <dir>', 'folder of task manifests (.yaml, .yml, .json) for --standalone')
    .option('--mount <dir>', 'where to mount the secrets filesystem', '/run/secrets')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS as string[]).default('info'))
    .action(async (opts: RunOpts) => {
      try {
        await run(opts);
      } catch (err) {
        process.stderr.write(`Error: ${errorMessage(err)}\n`);
        process.exitCode = 1;
      }
    });
  return agent;
}
