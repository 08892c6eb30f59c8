// `service ls` (alias list): GET /services?status=true (no status with -q), natural order, table/raw/json/template.
import type { Command } from 'commander';
import type { Filters } from '../client/objects.js';
import { SwarmApi } from '../client/swarm.js';
import { action, checkArgs, clientFor, flagError, listCommand } from '../objects/cli-support.js';
import { addFilter } from '../objects/validate.js';
import { printServices } from '../swarm/service-list.js';

interface LsOpts {
  quiet?: boolean;
  format?: string;
  filter?: string[];
}

export function parseFilters(cmd: Command, usage: string, values: string[] | undefined): Filters {
  const filters: Filters = new Map();
  for (const f of values ?? []) {
    const why = addFilter(filters, f);
    if (why) flagError(cmd, usage, `invalid argument "${f}" for "-f, --filter" flag: ${why}`);
  }
  return filters;
}

export function serviceLsCommand(): Command {
  const usage = 'ls [OPTIONS]';
  const cmd = listCommand('List services');
  cmd.action(
    action(async () => {
      const opts = cmd.opts<LsOpts>();
      const filters = parseFilters(cmd, usage, opts.filter);
      checkArgs(cmd, usage, cmd.args, { min: 0, max: 0 });
      const quiet = opts.quiet ?? false;
      const services = await new SwarmApi(clientFor(cmd)).services(filters, !quiet);
      process.stdout.write(printServices(services, opts.format || 'table', quiet));
    }),
  );
  return cmd;
}
