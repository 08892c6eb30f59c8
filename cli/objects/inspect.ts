// `secret inspect` / `config inspect`: raw JSON array, `-f json`, a template, or `--pretty`.
import type { Command } from 'commander';
import { ObjectsApi, type ObjectKind } from '../client/objects.js';
import { CliError } from '../client/errors.js';
import { formatWrite } from '../format/formatter.js';
import { action, checkArgs, clientFor, inspectCommandFrame, printInspect } from './cli-support.js';
import { prettyContext, resolveFormat } from './contexts.js';
import { decodeObject } from './model.js';

interface InspectOpts {
  format?: string;
  pretty?: boolean;
}

export function inspectCommand(kind: ObjectKind): Command {
  const noun = kind.toUpperCase();
  const usage = `inspect [OPTIONS] ${noun} [${noun}...]`;
  const cmd = inspectCommandFrame(usage, `Display detailed information on one or more ${kind}s`).argument(`[${noun}...]`);
  cmd.action(
    action(async () => {
      const refs = cmd.args;
      const opts = cmd.opts<InspectOpts>();
      checkArgs(cmd, usage, refs, { min: 1, max: Infinity });
      const api = new ObjectsApi(clientFor(cmd), kind);
      // --pretty replaces any --format (docker overwrites the format with "pretty").
      const f = opts.pretty ? 'pretty' : (opts.format ?? '');
      if (f.startsWith('pretty') && f !== 'pretty') throw new CliError('cannot supply extra formatting options to the pretty template');
      if (f === 'pretty') {
        // docker stops at the first failing reference and prints nothing but that error.
        const rows = [];
        for (const ref of refs) {
          const { value } = await api.inspect(ref);
          rows.push(prettyContext(kind, decodeObject(kind, value)));
        }
        process.stdout.write(formatWrite(resolveFormat(kind, 'pretty', false), rows, null));
        return;
      }
      await printInspect(refs, f, async (ref) => {
        const { value, raw } = await api.inspect(ref);
        return { typed: decodeObject(kind, value).typed, raw };
      });
    }),
  );
  return cmd;
}
