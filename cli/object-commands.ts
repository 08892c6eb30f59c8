// `runsecrets secret …` and `runsecrets config …`: docker's words, flags and output. (issue 3)
import type { Command } from 'commander';
import type { ObjectKind } from './client/objects.js';
import { commandGroup } from './objects/cli-support.js';
import { createCommand } from './objects/create.js';
import { inspectCommand } from './objects/inspect.js';
import { lsCommand } from './objects/ls.js';
import { rmCommand } from './objects/rm.js';

function objectGroup(kind: ObjectKind, description: string): Command {
  return commandGroup(kind, description, [createCommand(kind), inspectCommand(kind), lsCommand(kind), rmCommand(kind)], { positionalOptions: false });
}

export function secretCommand(): Command {
  return objectGroup('secret', 'Manage secrets');
}

export function configCommand(): Command {
  return objectGroup('config', 'Manage configs');
}
