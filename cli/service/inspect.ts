// `service inspect [OPTIONS] SERVICE [SERVICE...]`: the raw JSON (insertDefaults=true) as a 4-space array, a
// template, or `--pretty`. Like docker, the JSON is the decoded service re-encoded in Go's layout (go-shape). A
// 404 reads "Error: no such service: X"; errors exit 1 after what could be printed.
import type { Command } from 'commander';
import { CliError } from '../client/errors.js';
import { isNotFound, SwarmApi } from '../client/swarm.js';
import { formatWrite } from '../format/formatter.js';
import { fromRawJSON } from '../format/go-values.js';
import { action, checkArgs, clientFor, inspectCommandFrame, printInspect } from '../objects/cli-support.js';
import { goJSON, SERVICE, shape } from '../swarm/go-shape.js';
import { SERVICE_PRETTY_TEMPLATE, servicePrettyContext } from '../swarm/service-pretty.js';

interface InspectOpts {
  format?: string;
  pretty?: boolean;
}

export function serviceInspectCommand(): Command {
  const usage = 'inspect [OPTIONS] SERVICE [SERVICE...]';
  const cmd = inspectCommandFrame(usage, 'Display detailed information on one or more services');
  cmd.action(
    action(async () => {
      const opts = cmd.opts<InspectOpts>();
      if (opts.pretty && opts.format) throw new CliError('--format is incompatible with human friendly format');
      checkArgs(cmd, usage, cmd.args, { min: 1, max: Infinity });
      const api = new SwarmApi(clientFor(cmd));
      const get = async (ref: string) => {
        try {
          return await api.service(ref, true);
        } catch (err) {
          if (isNotFound(err)) throw new CliError(`Error: no such service: ${ref}`);
          throw err;
        }
      };
      const f = opts.pretty ? 'pretty' : (opts.format ?? '');
      if (f.startsWith('pretty') && f !== 'pretty') throw new CliError('Cannot supply extra formatting options to the pretty template');
      if (f === 'pretty') {
        // The first failing reference ends the command with only its error.
        const rows = [];
        for (const ref of cmd.args) rows.push(servicePrettyContext((await get(ref)).value, Date.now()));
        process.stdout.write(formatWrite(SERVICE_PRETTY_TEMPLATE, rows, null));
        return;
      }
      await printInspect(cmd.args, f, async (ref) => {
        const shaped = shape((await get(ref)).value, SERVICE);
        return { typed: fromRawJSON(shaped), raw: goJSON(shaped) };
      });
    }),
  );
  return cmd;
}
