// `runsecrets stack deploy|ls|ps|rm|services`: docker's words, flags and output for compose stacks (docs/stacks.md).
import type { Command } from 'commander';
import { commandGroup } from './objects/cli-support.js';
import { stackDeployCommand } from './stack/deploy.js';
import { stackLsCommand } from './stack/ls.js';
import { stackRmCommand } from './stack/rm.js';
import { stackPsCommand, stackServicesCommand } from './stack/ps.js';

export function stackCommand(): Command {
  return commandGroup('stack', 'Manage Swarm stacks', [stackDeployCommand(), stackLsCommand(), stackPsCommand(), stackRmCommand(), stackServicesCommand()], {
    positionalOptions: false,
  });
}
