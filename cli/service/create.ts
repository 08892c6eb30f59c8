// `service create [OPTIONS] IMAGE [COMMAND] [ARG...]`: flags to a ServiceSpec, secret and config names to IDs,
// POST /services/create, print the new ID; then, unless -d, wait for the service to converge (converge.ts).
import { Command } from 'commander';
import { SwarmApi } from '../client/swarm.js';
import { action, addHostOptions, checkArgs, clientFor, dockerLeaf } from '../objects/cli-support.js';
import { addCommonServiceFlags, validateServiceOpts, type RawServiceOpts } from './options.js';
import { resolveRefs } from './refs.js';
import { createSpec } from './spec.js';
import { waitForConvergence } from './converge.js';

export function serviceCreateCommand(): Command {
  const usage = 'create [OPTIONS] IMAGE [COMMAND] [ARG...]';
  const cmd = new Command('create')
    .description('Create a new service')
    .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
    .allowExcessArguments()
    // Flags after IMAGE belong to the command (cobra's SetInterspersed(false)).
    .passThroughOptions();
  addCommonServiceFlags(cmd, false);
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      const raw = cmd.opts<RawServiceOpts>();
      const o = validateServiceOpts(cmd, usage, raw);
      const args = cmd.args;
      checkArgs(cmd, usage, args, { min: 1, max: Infinity });
      const api = new SwarmApi(clientFor(cmd));
      // Mode errors come before any request, as in docker's ToService.
      createSpec(o, args[0]!, [], [], []);
      const secrets = await resolveRefs(api, 'secret', o.secrets);
      const configs = await resolveRefs(api, 'config', o.configs);
      const res = await api.createService(createSpec(o, args[0]!, args.slice(1), secrets, configs));
      for (const w of res.Warnings) process.stderr.write(w + '\n');
      process.stdout.write(res.ID + '\n');
      if (raw.detach) return;
      await waitForConvergence(api, res.ID, { quiet: raw.quiet === true, out: (line) => process.stdout.write(line + '\n') });
    }),
  );
  return cmd;
}
