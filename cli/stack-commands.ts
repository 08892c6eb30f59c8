// `runsecrets stack deploy|ls|ps|rm|services`: docker's words, flags and output for compose stacks (docs/stacks.md).
import { Command } from 'commander';
import { addHostOptions, commandPath, dockerUsageExit } from './objects/cli-support.js';
import { stackDeployCommand } from './stack/deploy.js';
import { stackLsCommand } from './stack/ls.js';
import { stackRmCommand } from './stack/rm.js';
import { stackPsCommand, stackServicesCommand } from './stack/ps.js';

export function stackCommand(): Command {
  const g = new Command('stack').description('Manage Swarm stacks');
  addHostOptions(g);
  for (const sub of [stackDeployCommand(), stackLsCommand(), stackPsCommand(), stackRmCommand(), stackServicesCommand()]) g.addCommand(sub);
  g.allowExcessArguments().action(() => {
    const [first] = g.args;
    if (first === undefined) {
      g.outputHelp();
      return;
    }
    const path = commandPath(g);
    dockerUsageExit(`runsecrets: unknown command: ${path} ${first}\n\nUsage:  ${path}\n\nRun '${path} --help' for more information`);
  });
  return g;
}
