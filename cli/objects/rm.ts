// `secret rm` / `config rm` (alias remove): each argument in turn, printed as typed on success; errors joined.
import { Command } from 'commander';
import { ObjectsApi, type ObjectKind } from '../client/objects.js';
import { CliError, ConnectionError, DaemonError } from '../client/errors.js';
import { action, addHostOptions, checkArgs, clientFor, dockerLeaf } from './cli-support.js';

export function rmCommand(kind: ObjectKind): Command {
  const noun = kind.toUpperCase();
  const usage = `rm ${noun} [${noun}...]`;
  const cmd = new Command('rm')
    .alias('remove')
    .description(`Remove one or more ${kind}s`)
    .usage(usage.replace(/^rm /, ''))
    .argument(`[${noun}...]`);
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      const refs = cmd.args;
      checkArgs(cmd, usage, refs, { min: 1, max: Infinity });
      const api = new ObjectsApi(clientFor(cmd), kind);
      const errors: string[] = [];
      for (const ref of refs) {
        try {
          await api.remove(ref);
          process.stdout.write(ref + '\n');
        } catch (err) {
          // Per-reference failures are collected like docker's errors.Join; anything else is a bug: let it out.
          if (!(err instanceof DaemonError || err instanceof ConnectionError || err instanceof CliError)) throw err;
          errors.push(err.message);
        }
      }
      if (errors.length > 0) throw new CliError(errors.join('\n'));
    }),
  );
  return cmd;
}
