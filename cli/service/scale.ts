// `service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]`: for each, read the service, set its replicas, update;
// prints "<name> scaled to <n>"; per-service errors are prefixed with the name and joined.
import { Command } from 'commander';
import { CliError, ConnectionError, DaemonError } from '../client/errors.js';
import { SwarmApi } from '../client/swarm.js';
import { action, addHostOptions, checkArgs, clientFor, commandPath, dockerLeaf, dockerUsageExit, useLine } from '../objects/cli-support.js';
import { GoParseError, parseUint } from '../swarm/go-parse.js';
import { SERVICE_SPEC, shape } from '../swarm/go-shape.js';
import { get, isObj, num, str } from '../swarm/json.js';

export function serviceScaleCommand(): Command {
  const usage = 'scale SERVICE=REPLICAS [SERVICE=REPLICAS...]';
  const short = 'Scale one or multiple replicated services';
  const cmd = new Command('scale').description(short).usage('SERVICE=REPLICAS [SERVICE=REPLICAS...]').allowExcessArguments();
  cmd.option('-d, --detach', 'Exit immediately instead of waiting for the service to converge');
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      const args = cmd.args;
      checkArgs(cmd, usage, args, { min: 1, max: Infinity });
      for (const arg of args) {
        const eq = arg.indexOf('=');
        if (eq <= 0 || eq === arg.length - 1) {
          dockerUsageExit(`invalid scale specifier '${arg}'.\nSee '${commandPath(cmd)} --help'.\n\nUsage:  ${useLine(cmd, usage)}\n\n${short}`);
        }
      }
      const api = new SwarmApi(clientFor(cmd));
      const errors: string[] = [];
      for (const arg of args) {
        const eq = arg.indexOf('=');
        const name = arg.slice(0, eq);
        const value = arg.slice(eq + 1);
        let n: number;
        try {
          n = Number(parseUint(value, 10, 64));
        } catch (e) {
          if (!(e instanceof GoParseError)) throw e;
          errors.push(`${name}: invalid replicas value ${value}: ${e.message}`);
          continue;
        }
        try {
          const { value: service } = await api.service(name, false);
          const spec = isObj(service.Spec) ? service.Spec : {};
          const replicated = get(spec, 'Mode', 'Replicated');
          const job = get(spec, 'Mode', 'ReplicatedJob');
          if (isObj(replicated)) replicated.Replicas = n;
          else if (isObj(job)) job.TotalCompletions = n;
          else throw new CliError('scale can only be used with replicated or replicated-job mode');
          const warnings = await api.updateService(str(get(service, 'ID')), num(get(service, 'Version', 'Index')), shape(spec, SERVICE_SPEC), false);
          for (const w of warnings) process.stderr.write(w + '\n');
          process.stdout.write(`${name} scaled to ${n}\n`);
        } catch (err) {
          // Per-service failures are collected (errors.Join); anything else is a bug: let it out.
          if (!(err instanceof DaemonError || err instanceof ConnectionError || err instanceof CliError)) throw err;
          errors.push(`${name}: ${err.message}`);
        }
      }
      if (errors.length > 0) throw new CliError(errors.join('\n'));
    }),
  );
  return cmd;
}
