// `service rm SERVICE [SERVICE...]` (alias remove): each in turn, printed as typed on success; errors joined.
import { Command } from 'commander';
import { CliError, ConnectionError, DaemonError } from '../client/errors.js';
import { SwarmApi } from '../client/swarm.js';
import { action, addHostOptions, checkArgs, clientFor, dockerLeaf } from '../objects/cli-support.js';

/** Runs one step per reference; failures are collected like Go's errors.Join, anything unexpected escapes. */
export async function eachRef(refs: string[], step: (ref: string) => Promise<string | null>): Promise<void> {
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      const line = await step(ref);
      if (line !== null) process.stdout.write(line + '\n');
    } catch (err) {
      if (!(err instanceof DaemonError || err instanceof ConnectionError || err instanceof CliError)) throw err;
      errors.push(err.message);
    }
  }
  if (errors.length > 0) throw new CliError(errors.join('\n'));
}

export function serviceRmCommand(): Command {
  const usage = 'rm SERVICE [SERVICE...]';
  const cmd = new Command('rm').alias('remove').description('Remove one or more services').usage('SERVICE [SERVICE...]').allowExcessArguments();
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      checkArgs(cmd, usage, cmd.args, { min: 1, max: Infinity });
      const api = new SwarmApi(clientFor(cmd));
      await eachRef(cmd.args, async (ref) => {
        await api.removeService(ref);
        return ref;
      });
    }),
  );
  return cmd;
}
