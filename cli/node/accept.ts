// `node accept NODE [NODE...]` (ours, beyond Docker; Docker 1.12 had `node accept`): a node that joined under
// manual join approval (`manager init|update --join-approval manual`) gets no task and no secret until accepted.
// Reads each node and posts its spec back with Membership "accepted"; prints each argument as typed.
import { Command } from 'commander';
import { SwarmApi } from '../client/swarm.js';
import { action, addHostOptions, checkArgs, clientFor, dockerLeaf } from '../objects/cli-support.js';
import { eachRef } from '../service/rm.js';
import { NODE_SPEC, shape } from '../swarm/go-shape.js';
import { get, isObj, num, str } from '../swarm/json.js';

export function nodeAcceptCommand(): Command {
  const usage = 'accept NODE [NODE...]';
  const cmd = new Command('accept').description('Accept nodes pending join approval').usage('NODE [NODE...]').allowExcessArguments();
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      checkArgs(cmd, usage, cmd.args, { min: 1, max: Infinity });
      const api = new SwarmApi(clientFor(cmd));
      await eachRef(cmd.args, async (ref) => {
        const { value: node } = await api.node(ref);
        const spec = isObj(node.Spec) ? node.Spec : {};
        spec.Membership = 'accepted';
        await api.updateNode(str(get(node, 'ID')), num(get(node, 'Version', 'Index')), shape(spec, NODE_SPEC));
        return ref;
      });
    }),
  );
  return cmd;
}
