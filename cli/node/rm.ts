// `node rm [OPTIONS] NODE [NODE...]` (alias remove): DELETE /nodes/{id}[?force=1]; names printed as typed.
import { Command } from 'commander';
import { SwarmApi } from '../client/swarm.js';
import { action, addHostOptions, checkArgs, clientFor, dockerLeaf } from '../objects/cli-support.js';
import { eachRef } from '../service/rm.js';

export function nodeRmCommand(): Command {
  const usage = 'rm [OPTIONS] NODE [NODE...]';
  const cmd = new Command('rm')
    .alias('remove')
    .description('Remove one or more nodes from the swarm')
    .usage('[OPTIONS] NODE [NODE...]')
    .allowExcessArguments()
    .option('-f, --force', 'Force remove a node from the swarm');
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      checkArgs(cmd, usage, cmd.args, { min: 1, max: Infinity });
      const api = new SwarmApi(clientFor(cmd));
      const force = cmd.opts<{ force?: boolean }>().force ?? false;
      await eachRef(cmd.args, async (ref) => {
        await api.removeNode(ref, force);
        return ref;
      });
    }),
  );
  return cmd;
}
