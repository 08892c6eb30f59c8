// `runsecrets agent …`
import { Command } from 'commander';

export function agentCommand(): Command {
  return new Command('agent').description('Run the runsecrets agent on this host');
}
