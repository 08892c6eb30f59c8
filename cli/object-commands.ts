// `runsecrets secret …` and `runsecrets config …`: docker's words, flags and output. (issue 3)
import { Command } from 'commander';

export function secretCommand(): Command {
  return new Command('secret').description('Manage secrets');
}

export function configCommand(): Command {
  return new Command('config').description('Manage configs');
}
