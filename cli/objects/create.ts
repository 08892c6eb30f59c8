// `secret create [OPTIONS] SECRET [file|-]` and `config create [OPTIONS] CONFIG file|-`.
import { Command, Option } from 'commander';
import { ObjectsApi, type CreateSpec, type ObjectKind } from '../client/objects.js';
import { CliError } from '../client/errors.js';
import { goQuote } from '../format/go-quote.js';
import { action, addHostOptions, checkArgs, clientFor, collect, dockerLeaf, flagError } from './cli-support.js';
import { readObjectData } from './read-data.js';
import { labelError, labelsToMap } from './validate.js';

interface CreateOpts {
  label?: string[];
  driver?: string;
  templateDriver?: string;
}

export function createCommand(kind: ObjectKind): Command {
  const secret = kind === 'secret';
  const usage = secret ? 'create [OPTIONS] SECRET [file|-]' : 'create [OPTIONS] CONFIG file|-';
  const cmd = new Command('create')
    .description(secret ? 'Create a secret from a file or STDIN as content' : 'Create a config from a file or STDIN')
    .usage(usage.replace(/^create /, ''))
    .argument(secret ? '[SECRET]' : '[CONFIG]')
    .argument('[file|-]')
    .allowExcessArguments()
    .addOption(new Option('-l, --label <label>', secret ? 'Secret labels' : 'Config labels').argParser(collect));
  if (secret) cmd.addOption(new Option('-d, --driver <string>', 'Secret driver'));
  cmd.addOption(new Option('--template-driver <string>', 'Template driver'));
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      // Arity is checked here, with docker's texts, rather than by commander.
      const args = cmd.args;
      const opts = cmd.opts<CreateOpts>();
      for (const l of opts.label ?? []) {
        const why = labelError(l);
        if (why) flagError(cmd, usage, `invalid argument "${l}" for "-l, --label" flag: ${why}`);
      }
      checkArgs(cmd, usage, args, secret ? { min: 1, max: 2 } : { min: 2, max: 2 });
      const name = args[0]!;
      const file = args[1] ?? '';
      const spec: CreateSpec = { Name: name, Labels: labelsToMap(opts.label ?? []) };
      if (secret && opts.driver) {
        if (file !== '') throw new CliError('When using secret driver secret data must be empty');
        spec.Driver = { Name: opts.driver };
      } else {
        let data: Buffer;
        try {
          data = await readObjectData(kind, file);
        } catch (err) {
          // config create wraps read errors (docker's cli/command/config/create.go).
          if (!secret && err instanceof CliError) throw new CliError(`Error reading content from ${goQuote(file)}: ${err.message}`);
          throw err;
        }
        spec.Data = data.toString('base64');
      }
      if (opts.templateDriver) spec.Templating = { Name: opts.templateDriver };
      const id = await new ObjectsApi(clientFor(cmd), kind).create(spec);
      process.stdout.write(id + '\n');
    }),
  );
  return cmd;
}
