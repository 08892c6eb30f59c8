// `runsecrets` entry: one command tree; each group lives in its own module and is loaded only when used, so
// that `runsecrets secret ls` does not pay for the manager's and agent's code.
import { Command, CommanderError } from 'commander';
import { errorMessage } from '../shared/errors.js';
import { addHostOptions } from './objects/cli-support.js';
import { versionText } from './version.js';

type GroupLoader = () => Promise<Command>;

const GROUPS: Record<string, GroupLoader> = {
  agent: async () => (await import('./agent-command.js')).agentCommand(),
  manager: async () => (await import('./manager-command.js')).managerCommand(),
  secret: async () => (await import('./object-commands.js')).secretCommand(),
  config: async () => (await import('./object-commands.js')).configCommand(),
  service: async () => (await import('./swarm-commands.js')).serviceCommand(),
  node: async () => (await import('./swarm-commands.js')).nodeCommand(),
  stack: async () => (await import('./stack-commands.js')).stackCommand(),
  task: async () => (await import('./task-command.js')).taskCommand(),
  version: async () =>
    new Command('version').description('Show the runsecrets version').action(() => {
      process.stdout.write(versionText() + '\n');
    }),
};

export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('runsecrets')
    .description("Docker Swarm's secrets for any Linux host")
    .version(versionText(), '-v, --version', 'output the version')
    .showHelpAfterError()
    .exitOverride()
    // Root options only before the command, as docker reads them: `service create IMAGE cmd -H x` keeps -H for cmd.
    .enablePositionalOptions();
  // -H/--host and the TLS flags may also come before the group, as with `docker -H … secret ls`.
  addHostOptions(program);
  const first = argv[0];
  const names = first !== undefined && first in GROUPS ? [first] : Object.keys(GROUPS);
  for (const name of names) program.addCommand(await GROUPS[name]!());
  return program;
}

/** `help CMD SUB…` as `CMD SUB… --help`: commander's own help command only looks one level down. */
export function helpArgv(argv: string[]): string[] {
  if (argv[0] !== 'help' || argv.length < 2 || argv.slice(1).some((a) => a.startsWith('-'))) return argv;
  return [...argv.slice(1), '--help'];
}

export async function main(rawArgv: string[]): Promise<void> {
  const argv = helpArgv(rawArgv);
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Usage errors exit 1 like docker's; help and version exit 0.
      process.exitCode = err.exitCode === 0 ? 0 : err.exitCode || 1;
      return;
    }
    process.stderr.write(`Error: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  }
}
