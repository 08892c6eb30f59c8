// `runsecrets stack ls` (alias list): services with the stack label (key only), grouped by its value; docker's
// table (NAME, SERVICES), stacks in natural order.
import { Command } from 'commander';
import { SwarmApi } from '../client/swarm.js';
import { action, addHostOptions, checkArgs, clientFor, dockerLeaf } from '../objects/cli-support.js';
import { tabwrite } from '../format/tabwriter.js';
import { naturalCompare } from '../format/natural-sort.js';
import { NAMESPACE_LABEL } from './convert.js';

export function stackLsCommand(): Command {
  const usage = 'ls [OPTIONS]';
  const cmd = new Command('ls').alias('list').description('List stacks').usage('[OPTIONS]').allowExcessArguments();
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      checkArgs(cmd, usage, cmd.args, { min: 0, max: 0 });
      const services = await new SwarmApi(clientFor(cmd)).services(new Map([['label', new Set([NAMESPACE_LABEL])]]), false);
      const counts = new Map<string, number>();
      for (const s of services) {
        const stack = (s.Spec as { Labels?: Record<string, string> } | undefined)?.Labels?.[NAMESPACE_LABEL];
        if (stack !== undefined) counts.set(stack, (counts.get(stack) ?? 0) + 1);
      }
      const rows = [...counts.entries()].sort((a, b) => naturalCompare(a[0], b[0]));
      process.stdout.write(tabwrite(['NAME\tSERVICES', ...rows.map(([n, c]) => `${n}\t${c}`)].join('\n') + '\n'));
    }),
  );
  return cmd;
}
