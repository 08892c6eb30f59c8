// `secret ls` / `config ls` (alias list): server-side filters, natural sort by name, table/json/template output.
import type { Command } from 'commander';
import { ObjectsApi, type Filters, type ObjectKind } from '../client/objects.js';
import { formatWrite } from '../format/formatter.js';
import { naturalCompare } from '../format/natural-sort.js';
import { action, checkArgs, clientFor, flagError, listCommand } from './cli-support.js';
import { headerContext, listContext, resolveFormat } from './contexts.js';
import { decodeObject } from './model.js';
import { addFilter } from './validate.js';

interface LsOpts {
  quiet?: boolean;
  format?: string;
  filter?: string[];
}

export function lsCommand(kind: ObjectKind): Command {
  const usage = 'ls [OPTIONS]';
  const cmd = listCommand(kind === 'secret' ? 'List secrets' : 'List configs');
  cmd.action(
    action(async () => {
      const args = cmd.args;
      const opts = cmd.opts<LsOpts>();
      const filters: Filters = new Map();
      for (const f of opts.filter ?? []) {
        const why = addFilter(filters, f);
        if (why) flagError(cmd, usage, `invalid argument "${f}" for "-f, --filter" flag: ${why}`);
      }
      checkArgs(cmd, usage, args, { min: 0, max: 0 });
      const items = (await new ObjectsApi(clientFor(cmd), kind).list(filters)).map((raw) => decodeObject(kind, raw));
      items.sort((a, b) => naturalCompare(a.name, b.name));
      const format = resolveFormat(kind, opts.format || 'table', opts.quiet ?? false);
      const now = Date.now();
      process.stdout.write(formatWrite(format, items.map((v) => listContext(kind, v, now)), headerContext(kind)));
    }),
  );
  return cmd;
}
