// `node inspect [OPTIONS] self|NODE [NODE...]`: raw JSON array, template, or `--pretty`; "self" is the node
// this manager runs on (from /info). The JSON is the decoded node re-encoded in Go's layout, as docker does.
import type { Command } from 'commander';
import { CliError } from '../client/errors.js';
import { SwarmApi } from '../client/swarm.js';
import { formatWrite } from '../format/formatter.js';
import { fromRawJSON } from '../format/go-values.js';
import { action, checkArgs, clientFor, inspectCommandFrame, printInspect } from '../objects/cli-support.js';
import { get, str } from '../swarm/json.js';
import { goJSON, NODE, shape } from '../swarm/go-shape.js';
import { NODE_PRETTY_TEMPLATE, nodePrettyContext } from '../swarm/node-pretty.js';

interface InspectOpts {
  format?: string;
  pretty?: boolean;
}

/** node.Reference: "self" becomes the manager's own node ID. */
export async function nodeReference(api: SwarmApi, ref: string): Promise<string> {
  if (ref !== 'self') return ref;
  const id = str(get(await api.info(), 'Swarm', 'NodeID'));
  if (id !== '') return id;
  await api.nodes(new Map());
  throw new CliError('node ID not found in /info');
}

export function nodeInspectCommand(): Command {
  const usage = 'inspect [OPTIONS] self|NODE [NODE...]';
  const cmd = inspectCommandFrame(usage, 'Display detailed information on one or more nodes');
  cmd.action(
    action(async () => {
      const opts = cmd.opts<InspectOpts>();
      checkArgs(cmd, usage, cmd.args, { min: 1, max: Infinity });
      const api = new SwarmApi(clientFor(cmd));
      const f = opts.pretty ? 'pretty' : (opts.format ?? '');
      if (f.startsWith('pretty') && f !== 'pretty') throw new CliError('cannot supply extra formatting options to the pretty template');
      const fetch = async (ref: string) => api.node(await nodeReference(api, ref));
      if (f === 'pretty') {
        const rows = [];
        for (const ref of cmd.args) rows.push(nodePrettyContext((await fetch(ref)).value));
        process.stdout.write(formatWrite(NODE_PRETTY_TEMPLATE, rows, null));
        return;
      }
      await printInspect(cmd.args, f, async (ref) => {
        const shaped = shape((await fetch(ref)).value, NODE);
        return { typed: fromRawJSON(shaped), raw: goJSON(shaped) };
      });
    }),
  );
  return cmd;
}
