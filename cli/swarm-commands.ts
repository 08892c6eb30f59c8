// `runsecrets service …` and `runsecrets node …`: docker's words, flags and output, against the manager's
// /services, /tasks and /nodes endpoints. (issue 4, item 7)
import type { Command } from 'commander';
import { commandGroup } from './objects/cli-support.js';
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


export function serviceCommand(): Command {
  return commandGroup('service', 'Manage Swarm services', [
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
  return commandGroup('node', 'Manage Swarm nodes', [nodeAcceptCommand(), nodeInspectCommand(), nodeLsCommand(), nodeRmCommand(), nodeUpdateCommand()]);
}
