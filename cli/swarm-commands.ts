// `runsecrets service …` and `runsecrets node …`: docker's words, flags and output, against the manager's
// /services, /tasks and /nodes endpoints. (issue 4, item 7)
import { Command } from 'commander';
import { addHostOptions, commandPath, dockerUsageExit } from './objects/cli-support.js';
import { serviceCreateCommand } from './service/create.js';
import { serviceInspectCommand } from './service/inspect.js';
import { serviceLsCommand } from './service/ls.js';
import { servicePsCommand } from './service/ps.js';
import { serviceRmCommand } from './service/rm.js';
import { serviceScaleCommand } from './service/scale.js';
import { serviceUpdateCommand } from './service/update.js';
import { nodeAcceptCommand } from './node/accept.js';
import { nodeInspectCommand } from './node/inspect.js';
import { nodeLsCommand } from './node/ls.js';
import { nodeRmCommand } from './node/rm.js';
import { nodeUpdateCommand } from './node/update.js';

function group(name: string, description: string, subs: Command[]): Command {
  const g = new Command(name).description(description);
  addHostOptions(g);
  // `service create IMAGE CMD -x`: the leaf stops reading flags at IMAGE, which commander allows only under a
  // parent with positional options.
  g.enablePositionalOptions();
  for (const sub of subs) g.addCommand(sub);
  // Like `docker service`: alone it prints its help (exit 0); an unknown subcommand is a usage error.
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

export function serviceCommand(): Command {
  return group('service', 'Manage Swarm services', [
    serviceCreateCommand(),
    serviceInspectCommand(),
    serviceLsCommand(),
    servicePsCommand(),
    serviceRmCommand(),
    serviceScaleCommand(),
    serviceUpdateCommand(),
  ]);
}

export function nodeCommand(): Command {
  return group('node', 'Manage Swarm nodes', [nodeAcceptCommand(), nodeInspectCommand(), nodeLsCommand(), nodeRmCommand(), nodeUpdateCommand()]);
}
