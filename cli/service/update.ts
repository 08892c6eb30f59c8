// `service update [OPTIONS] SERVICE`: GET the service, change its spec by the flags, POST it back with the
// version read (optimistic concurrency), print the service as typed.
import { Command } from 'commander';
import { SwarmApi } from '../client/swarm.js';
import { action, addHostOptions, checkArgs, clientFor, dockerLeaf } from '../objects/cli-support.js';
import { SERVICE_SPEC, shape } from '../swarm/go-shape.js';
import { get, isObj, num, str } from '../swarm/json.js';
import { addCommonServiceFlags, validateServiceOpts, type RawServiceOpts } from './options.js';
import { resolveRefs } from './refs.js';
import { updateSpec } from './spec.js';

export function serviceUpdateCommand(): Command {
  const usage = 'update [OPTIONS] SERVICE';
  const cmd = new Command('update').description('Update a service').usage('[OPTIONS] SERVICE').allowExcessArguments();
  addCommonServiceFlags(cmd, true);
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      const o = validateServiceOpts(cmd, usage, cmd.opts<RawServiceOpts>());
      const args = cmd.args;
      checkArgs(cmd, usage, args, { min: 1, max: 1 });
      const ref = args[0]!;
      const api = new SwarmApi(clientFor(cmd));
      const { value: service } = await api.service(ref, false);
      const spec = isObj(service.Spec) ? service.Spec : {};
      // Checked before the lookups, like docker's updateService runs before getUpdatedSecrets.
      updateSpec(structuredClone(spec), { ...o, secrets: [], configs: [] }, [], []);
      const secrets = await resolveRefs(api, 'secret', o.secrets);
      const configs = await resolveRefs(api, 'config', o.configs);
      updateSpec(spec, o, secrets, configs);
      const warnings = await api.updateService(str(get(service, 'ID')), num(get(service, 'Version', 'Index')), shape(spec, SERVICE_SPEC), true);
      for (const w of warnings) process.stderr.write(w + '\n');
      process.stdout.write(ref + '\n');
    }),
  );
  return cmd;
}
