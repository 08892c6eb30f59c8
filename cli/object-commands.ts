// `runsecrets secret …` and `runsecrets config …`: docker's words, flags and output. (issue 3)
import { Command } from 'commander';
import type { ObjectKind } from './client/objects.js';
import { addHostOptions, commandPath, dockerUsageExit } from './objects/cli-support.js';
import { createCommand } from './objects/create.js';
import { inspectCommand } from './objects/inspect.js';
import { lsCommand } from './objects/ls.js';
import { rmCommand } from './objects/rm.js';

function objectGroup(kind: ObjectKind, description: string): Command {
  const group = new Command(kind).description(description);
  addHostOptions(group);
  for (const sub of [createCommand(kind), inspectCommand(kind), lsCommand(kind), rmCommand(kind)]) group.addCommand(sub);
  // Like `docker secret`: alone it prints its help to stdout (exit 0); an unknown subcommand is a usage error.
  group.allowExcessArguments().action(() => {
    const [first] = group.args;
    if (first === undefined) {
      group.outputHelp();
      return;
    }
    const path = commandPath(group);
    dockerUsageExit(`runsecrets: unknown command: ${path} ${first}\n\nUsage:  ${path}\n\nRun '${path} --help' for more information`);
  });
  return group;
}

export function secretCommand(): Command {
  return objectGroup('secret', 'Manage secrets');
}

export function configCommand(): Command {
  return objectGroup('config', 'Manage configs');
}
