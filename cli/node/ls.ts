// `node ls` (alias list): GET /nodes (filters), and /info to mark the node the CLI talks to; natural order by
// hostname.
import type { Command } from 'commander';
import { SwarmApi } from '../client/swarm.js';
import { action, checkArgs, clientFor, listCommand } from '../objects/cli-support.js';
import { parseFilters } from '../service/ls.js';
import { get, str } from '../swarm/json.js';
import { printNodes } from '../swarm/node-list.js';

interface LsOpts {
  quiet?: boolean;
  format?: string;
  filter?: string[];
}

export function nodeLsCommand(): Command {
  const usage = 'ls [OPTIONS]';
  const cmd = listCommand('List nodes in the swarm');
  cmd.action(
    action(async () => {
      const opts = cmd.opts<LsOpts>();
      const filters = parseFilters(cmd, usage, opts.filter);
      checkArgs(cmd, usage, cmd.args, { min: 0, max: 0 });
      const quiet = opts.quiet ?? false;
      const api = new SwarmApi(clientFor(cmd));
      const nodes = await api.nodes(filters);
      const selfID = nodes.length > 0 && !quiet ? str(get(await api.info(), 'Swarm', 'NodeID')) : '';
      process.stdout.write(printNodes(nodes, selfID, opts.format || 'table', quiet));
    }),
  );
  return cmd;
}
