// `node update [OPTIONS] NODE`: read the node, change availability, role and labels in its spec, POST it back
// with the version read; prints the node as typed.
import { Command, Option } from 'commander';
import { CliError } from '../client/errors.js';
import { SwarmApi } from '../client/swarm.js';
import { action, addHostOptions, checkArgs, clientFor, collect, dockerLeaf, flagError } from '../objects/cli-support.js';
import { labelError, labelsToMap } from '../objects/validate.js';
import { NODE_SPEC, shape } from '../swarm/go-shape.js';
import { child, get, isObj, num, str } from '../swarm/json.js';

interface UpdateOpts {
  availability?: string;
  role?: string;
  labelAdd?: string[];
  labelRm?: string[];
}

export function nodeUpdateCommand(): Command {
  const usage = 'update [OPTIONS] NODE';
  const cmd = new Command('update')
    .description('Update a node')
    .usage('[OPTIONS] NODE')
    .allowExcessArguments()
    .addOption(new Option('--availability <string>', 'Availability of the node ("active", "pause", "drain")'))
    .addOption(new Option('--label-add <list>', 'Add or update a node label ("key=value")').argParser(collect))
    .addOption(new Option('--label-rm <list>', 'Remove a node label if exists').argParser(collect))
    .addOption(new Option('--role <string>', 'Role of the node ("worker", "manager")'));
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      const opts = cmd.opts<UpdateOpts>();
      for (const l of opts.labelAdd ?? []) {
        const why = labelError(l);
        if (why) flagError(cmd, usage, `invalid argument "${l}" for "--label-add" flag: ${why}`);
      }
      checkArgs(cmd, usage, cmd.args, { min: 1, max: 1 });
      const ref = cmd.args[0]!;
      const api = new SwarmApi(clientFor(cmd));
      const { value: node } = await api.node(ref);
      const spec = isObj(node.Spec) ? node.Spec : {};
      if (opts.role !== undefined) spec.Role = opts.role;
      if (opts.availability !== undefined) spec.Availability = opts.availability;
      // docker always sends a labels map, empty when the node had none.
      const labels = child(spec, 'Labels');
      Object.assign(labels, labelsToMap(opts.labelAdd ?? []));
      for (const k of opts.labelRm ?? []) {
        if (!Object.prototype.hasOwnProperty.call(labels, k)) throw new CliError(`key ${k} doesn't exist in node's labels`);
        delete labels[k];
      }
      await api.updateNode(str(get(node, 'ID')), num(get(node, 'Version', 'Index')), shape(spec, NODE_SPEC));
      process.stdout.write(ref + '\n');
    }),
  );
  return cmd;
}
