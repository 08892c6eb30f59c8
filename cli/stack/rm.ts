// `runsecrets stack rm STACK [STACK...]` (aliases remove, down): docker's order and output (reference §5.5):
// services (by name), secrets, configs, networks; each failure printed, the command then fails. With
// --detach=false it waits until every task of the stack has reached a terminal state (polling, not spinning).
import { Command, Option } from 'commander';
import { SwarmApi, type Json } from '../client/swarm.js';
import { ObjectsApi } from '../client/objects.js';
import { CliError, DaemonError } from '../client/errors.js';
import { action, addHostOptions, checkArgs, clientFor, dockerLeaf } from '../objects/cli-support.js';
import { checkStackName, stackFilter } from './stack-name.js';
import { NAMESPACE_LABEL } from './convert.js';

const TERMINAL = new Set(['complete', 'shutdown', 'failed', 'rejected']);

const nameOf = (o: Json): string => String((o.Spec as { Name?: string } | undefined)?.Name ?? o.Name ?? '');
const byName = (a: Json, b: Json): number => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0);

async function removeStack(client: ReturnType<typeof clientFor>, stack: string, detach: boolean): Promise<boolean> {
  const swarm = new SwarmApi(client);
  const label = new Map([['label', new Set([`${NAMESPACE_LABEL}=${stack}`])]]);
  const secretsApi = new ObjectsApi(client, 'secret');
  const configsApi = new ObjectsApi(client, 'config');
  const services = (await swarm.services(label, false)).sort(byName);
  const networks = (((await client.getJSON('/networks', { filters: stackFilter(stack) })).value as Json[] | null) ?? []).sort(byName);
  const secrets = (await secretsApi.list(label)) as Json[];
  const configs = (await configsApi.list(label)) as Json[];
  if (services.length + networks.length + secrets.length + configs.length === 0) {
    process.stderr.write(`Nothing found in stack: ${stack}\n`);
    return true;
  }
  let ok = true;
  const step = async (kind: string, o: Json, id: string, fn: () => Promise<unknown>): Promise<void> => {
    process.stdout.write(`Removing ${kind} ${nameOf(o)}\n`);
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof DaemonError)) throw err;
      process.stderr.write(`Failed to remove ${kind} ${id}: ${err.message}`);
      ok = false;
    }
  };
  for (const s of services) await step('service', s, String(s.ID), () => swarm.removeService(String(s.ID)));
  for (const s of secrets) await step('secret', s, String(s.ID), () => secretsApi.remove(String(s.ID)));
  for (const c of configs) await step('config', c, String(c.ID), () => configsApi.remove(String(c.ID)));
  for (const n of networks) await step('network', n, String(n.Id), () => client.call('DELETE', `/networks/${encodeURIComponent(String(n.Id))}`));
  if (!detach) {
    // Unlike docker's tight loop (which counts at most one task a poll), every task is looked at on each poll.
    for (;;) {
      const tasks = await swarm.tasks(label);
      if (tasks.every((t) => TERMINAL.has(String((t.Status as { State?: string } | undefined)?.State)))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return ok;
}

export function stackRmCommand(): Command {
  const usage = 'rm [OPTIONS] STACK [STACK...]';
  const cmd = new Command('rm')
    .aliases(['remove', 'down'])
    .description('Remove one or more stacks')
    .usage('[OPTIONS] STACK [STACK...]')
    .allowExcessArguments()
    .addOption(new Option('-d, --detach [bool]', 'Do not wait for stack removal').default(true));
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      checkArgs(cmd, usage, cmd.args, { min: 1, max: Infinity });
      const d = cmd.opts<{ detach: boolean | string }>().detach;
      const detach = d === true || d === 'true' || d === '1';
      const client = clientFor(cmd);
      let failed = '';
      for (const arg of cmd.args) {
        const stack = checkStackName(arg);
        if (!(await removeStack(client, stack, detach))) failed = stack;
      }
      if (failed !== '') throw new CliError(`Failed to remove some resources from stack: ${failed}`);
    }),
  );
  return cmd;
}
