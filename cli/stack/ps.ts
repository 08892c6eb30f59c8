// `runsecrets stack ps STACK` and `runsecrets stack services STACK`: the stack's tasks (GET /tasks with the stack
// label, printed as `service ps` prints them) and services (GET /services?status=true, as `service ls`), with
// docker's "nothing found in stack" texts.
import { Command, Option } from 'commander';
import { CliError } from '../client/errors.js';
import { SwarmApi } from '../client/swarm.js';
import { action, addHostOptions, checkArgs, clientFor, collect, dockerLeaf } from '../objects/cli-support.js';
import { printTasks } from '../swarm/task-print.js';
import { printServices } from '../swarm/service-list.js';
import { parseFilters } from '../service/ls.js';
import { idResolver } from '../service/resolver.js';
import { NAMESPACE_LABEL } from './convert.js';
import { checkStackName } from './stack-name.js';

interface ListOpts {
  quiet?: boolean;
  trunc?: boolean;
  resolve?: boolean;
  format?: string;
  filter?: string[];
}

function frame(name: string, description: string): Command {
  const cmd = new Command(name)
    .description(description)
    .usage('[OPTIONS] STACK')
    .allowExcessArguments()
    .addOption(new Option('-f, --filter <filter>', 'Filter output based on conditions provided').argParser(collect))
    .addOption(new Option('--format <string>', 'Format output using a custom template'))
    .option('-q, --quiet', 'Only display IDs');
  addHostOptions(cmd);
  return cmd;
}

/** The STACK argument and the --filter flags, with the stack's namespace label added (as docker does). */
function stackFilters(cmd: Command, usage: string, opts: ListOpts): { stack: string; filters: ReturnType<typeof parseFilters> } {
  const filters = parseFilters(cmd, usage, opts.filter);
  checkArgs(cmd, usage, cmd.args, { min: 1, max: 1 });
  const stack = checkStackName(cmd.args[0]!);
  filters.set('label', new Set([...(filters.get('label') ?? []), `${NAMESPACE_LABEL}=${stack}`]));
  return { stack, filters };
}

export function stackPsCommand(): Command {
  const usage = 'ps [OPTIONS] STACK';
  const cmd = frame('ps', 'List the tasks in the stack').option('--no-resolve', 'Do not map IDs to Names').option('--no-trunc', 'Do not truncate output');
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      const opts = cmd.opts<ListOpts>();
      const { stack, filters } = stackFilters(cmd, usage, opts);
      const api = new SwarmApi(clientFor(cmd));
      const tasks = await api.tasks(filters);
      if (tasks.length === 0) throw new CliError(`nothing found in stack: ${stack}`);
      const quiet = opts.quiet ?? false;
      const out = await printTasks(tasks, idResolver(api, opts.resolve === false), { trunc: quiet ? false : opts.trunc !== false, quiet, format: opts.format || 'table', now: Date.now() });
      process.stdout.write(out);
    }),
  );
  return cmd;
}

export function stackServicesCommand(): Command {
  const usage = 'services [OPTIONS] STACK';
  const cmd = frame('services', 'List the services in the stack');
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      const opts = cmd.opts<ListOpts>();
      const { stack, filters } = stackFilters(cmd, usage, opts);
      const quiet = opts.quiet ?? false;
      const services = await new SwarmApi(clientFor(cmd)).services(filters, !quiet);
      // docker: nothing found is a message on stderr (exit 0) instead of an empty table
      if (services.length === 0) {
        process.stderr.write(`Nothing found in stack: ${stack}\n`);
        return;
      }
      process.stdout.write(printServices(services, opts.format || 'table', quiet));
    }),
  );
  return cmd;
}
