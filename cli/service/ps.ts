// `service ps [OPTIONS] SERVICE [SERVICE...]`: services matched by full ID, then full name, then unique ID
// prefix; their tasks listed with docker's names, history rows, truncation and filters.
import { Command, Option } from 'commander';
import type { Filters } from '../client/objects.js';
import { CliError } from '../client/errors.js';
import { SwarmApi } from '../client/swarm.js';
import { action, addHostOptions, checkArgs, clientFor, collect, dockerLeaf } from '../objects/cli-support.js';
import { get, str } from '../swarm/json.js';
import { printTasks } from '../swarm/task-print.js';
import { parseFilters } from './ls.js';
import { idResolver } from './resolver.js';

interface PsOpts {
  quiet?: boolean;
  trunc?: boolean;
  resolve?: boolean;
  format?: string;
  filter?: string[];
}

function add(filters: Filters, key: string, value: string): void {
  if (!filters.has(key)) filters.set(key, new Set());
  filters.get(key)!.add(value);
}

/** createFilter: the "service" filter for the named services, and the "no such service" lines. */
async function serviceFilter(api: SwarmApi, refs: string[], filters: Filters): Promise<string[]> {
  const byId = await api.services(new Map([['id', new Set(refs)]]), false);
  const byName = await api.services(new Map([['name', new Set(refs)]]), false);
  const notFound: string[] = [];
  let count = 0;
  for (const ref of refs) {
    const exactId = byId.find((s) => str(get(s, 'ID')) === ref);
    const exactName = exactId ? undefined : byName.find((s) => str(get(s, 'Spec', 'Name')) === ref);
    const hit = exactId ?? exactName;
    if (hit) {
      add(filters, 'service', str(get(hit, 'ID')));
      count++;
      continue;
    }
    let found = false;
    for (const s of byId) {
      if (!str(get(s, 'ID')).startsWith(ref)) continue;
      if (found) throw new CliError(`multiple services found with provided prefix: ${ref}`);
      add(filters, 'service', str(get(s, 'ID')));
      count++;
      found = true;
    }
    if (!found) notFound.push(`no such service: ${ref}`);
  }
  if (count === 0) throw new CliError(notFound.join('\n'));
  return notFound;
}

/** updateNodeFilter: "self" means the node this manager runs on (from /info). */
async function resolveSelfNode(api: SwarmApi, filters: Filters): Promise<void> {
  const nodes = filters.get('node');
  if (!nodes || !nodes.has('self')) return;
  const info = await api.info();
  const id = str(get(info, 'Swarm', 'NodeID'));
  if (id === '') {
    await api.nodes(new Map());
    throw new CliError('node ID not found in /info');
  }
  nodes.delete('self');
  nodes.add(id);
}

export function servicePsCommand(): Command {
  const usage = 'ps [OPTIONS] SERVICE [SERVICE...]';
  const cmd = new Command('ps')
    .description('List the tasks of one or more services')
    .usage('[OPTIONS] SERVICE [SERVICE...]')
    .allowExcessArguments()
    .addOption(new Option('-f, --filter <filter>', 'Filter output based on conditions provided').argParser(collect))
    .addOption(new Option('--format <string>', 'Pretty-print tasks using a Go template'))
    .option('--no-resolve', 'Do not map IDs to Names')
    .option('--no-trunc', 'Do not truncate output')
    .option('-q, --quiet', 'Only display task IDs');
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      const opts = cmd.opts<PsOpts>();
      const filters = parseFilters(cmd, usage, opts.filter);
      checkArgs(cmd, usage, cmd.args, { min: 1, max: Infinity });
      const api = new SwarmApi(clientFor(cmd));
      const notFound = await serviceFilter(api, cmd.args, filters);
      await resolveSelfNode(api, filters);
      const tasks = await api.tasks(filters);
      const quiet = opts.quiet ?? false;
      const trunc = quiet ? false : opts.trunc !== false;
      const out = await printTasks(tasks, idResolver(api, opts.resolve === false), {
        trunc,
        quiet,
        format: opts.format || 'table',
        now: Date.now(),
      });
      process.stdout.write(out);
      if (notFound.length > 0) throw new CliError(notFound.join('\n'));
    }),
  );
  return cmd;
}
