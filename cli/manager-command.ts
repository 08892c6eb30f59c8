// `runsecrets manager …`: cluster init, run, join tokens, unlock, admin certificates. (issue 3)
import { Command } from 'commander';

export function managerCommand(): Command {
  return new Command('manager').description('Run and administer the runsecrets manager');
}
