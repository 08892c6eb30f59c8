// `runsecrets` entry: one command tree; each group lives in its own module.
import { Command, CommanderError } from 'commander';
import { agentCommand } from './agent-command.js';
import { managerCommand } from './manager-command.js';
import { secretCommand, configCommand } from './object-commands.js';
import { errorMessage } from '../shared/errors.js';

export function buildProgram(): Command {
  const program = new Command('runsecrets')
    .description("Docker Swarm's secrets for any Linux host")
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  program.addCommand(agentCommand());
  program.addCommand(managerCommand());
  program.addCommand(secretCommand());
  program.addCommand(configCommand());
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
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
