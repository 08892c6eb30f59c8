// What every docker-like leaf command shares: connection flags, docker's usage-error texts (with our program
// name), flag values validated as docker validates them, and one way to end: text to stdout/stderr, exit 1 on error.
import { Command, CommanderError, Option } from 'commander';
import { resolveEndpoint, EndpointError, type HostOptions } from '../client/endpoint.js';
import { EngineClient } from '../client/engine.js';
import { CliError, ConnectionError, DaemonError } from '../client/errors.js';
import { FormatError } from '../format/formatter.js';
import { inspectRefs, InspectTemplateError, type GetRef } from '../format/inspect.js';

export const BIN = 'runsecrets';

/** Connection flags; on the group and on each leaf, so they may come before or after the subcommand. */
export function addHostOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-H, --host <host>', 'Manager socket or address (unix:///path, tcp://host:port); env RUNSECRETS_HOST'))
    .addOption(new Option('--tlscert <path>', 'Path to TLS certificate file'))
    .addOption(new Option('--tlskey <path>', 'Path to TLS key file'))
    .addOption(new Option('--tlscacert <path>', 'Trust certs signed only by this CA'));
}

export function clientFor(cmd: Command): EngineClient {
  const o = cmd.optsWithGlobals<HostOptions>();
  return new EngineClient(resolveEndpoint(o));
}

/** Collects a repeatable flag's raw values; validation happens in the action, to print docker's flag error. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  if (names[0] !== BIN) names.unshift(BIN);
  return names.join(' ');
}

/** cobra's UseLine with docker's DisableFlagsInUseLine: "<path> <usage>". */
export function useLine(cmd: Command, usage: string): string {
  return cmd.parent ? `${commandPath(cmd.parent)} ${usage}` : `${BIN} ${usage}`;
}

/** A usage error that has already been printed: main() sees a CommanderError and only sets the exit code. */
export function dockerUsageExit(text: string): never {
  process.stderr.write(text + '\n');
  throw new CommanderError(1, 'runsecrets.usage', text);
}

/** docker's flag error: `invalid argument "<v>" for "-l, --label" flag: <why>` plus usage (docker exits 125). */
export function flagError(cmd: Command, usage: string, msg: string): never {
  dockerUsageExit(`${msg}\n\nUsage:  ${useLine(cmd, usage)}\n\nRun '${commandPath(cmd)} --help' for more information`);
}

export type ArgRule = { min: number; max: number };

function plural(n: number): string {
  return n === 1 ? 'argument' : 'arguments';
}

/** cli.NoArgs / RequiresMinArgs / RequiresRangeArgs / ExactArgs, texts as docker's cli/required.go. */
export function checkArgs(cmd: Command, usage: string, args: string[], rule: ArgRule): void {
  const n = args.length;
  if (n >= rule.min && n <= rule.max) return;
  const path = commandPath(cmd);
  const use = useLine(cmd, usage);
  let text: string;
  if (rule.max === 0) {
    text = `${BIN}: '${path}' accepts no arguments\n\nUsage:  ${use}\n\nRun '${path} --help' for more information`;
  } else if (rule.min === rule.max) {
    text = `${BIN}: '${path}' requires ${rule.min} ${plural(rule.min)}\n\nUsage:  ${use}\n\nRun '${path} --help' for more information`;
  } else if (rule.max === Infinity) {
    text = `${BIN}: '${path}' requires at least ${rule.min} ${plural(rule.min)}\n\nUsage:  ${use}\n\nSee '${path} --help' for more information`;
  } else {
    text = `${BIN}: '${path}' requires at least ${rule.min} and at most ${rule.max} ${plural(rule.max)}\n\nUsage:  ${use}\n\nRun '${path} --help' for more information`;
  }
  dockerUsageExit(text);
}

/**
 * commander's parse errors, reworded as pflag's: unknown flag, unknown shorthand, missing value. commander does
 * not say which spelling of a flag lacked its value; pflag names the one typed, so we look at argv.
 */
function pflagMessage(text: string, argv: string[]): string {
  const line = text.replace(/^error: /, '').trim();
  let m = /^unknown option '(-[^-])(.*)'/.exec(line);
  if (m) return `unknown shorthand flag: '${m[1]!.slice(1)}' in ${m[1]}${m[2]}`;
  m = /^unknown option '(--[^=']+)/.exec(line);
  if (m) return `unknown flag: ${m[1]}`;
  m = /^option '(?:(-\w), )?(--[\w-]+)[^']*' argument missing/.exec(line);
  if (m) return `flag needs an argument: ${m[1] && !argv.includes(m[2]!) ? `'${m[1].slice(1)}' in ${m[1]}` : m[2]}`;
  return line;
}

/** Makes a leaf command behave like a docker one on bad flags: one message, usage footer, exit 1. */
export function dockerLeaf(cmd: Command, usage: string): Command {
  cmd.exitOverride();
  cmd.configureOutput({
    outputError: (str, write) => {
      write(`${pflagMessage(str, process.argv)}\n\nUsage:  ${useLine(cmd, usage)}\n\nRun '${commandPath(cmd)} --help' for more information\n`);
    },
  });
  return cmd;
}

/** Runs an action; any error is printed as docker prints it (the bare message) and the exit code becomes 1. */
export function action<A extends unknown[]>(fn: (...a: A) => Promise<void>): (...a: A) => Promise<void> {
  return async (...a: A) => {
    try {
      await fn(...a);
    } catch (err) {
      if (err instanceof CommanderError) throw err;
      const known = err instanceof DaemonError || err instanceof ConnectionError || err instanceof CliError
        || err instanceof EndpointError || err instanceof FormatError;
      const msg = known ? (err as Error).message : `error: ${(err as Error)?.message ?? String(err)}`;
      if (msg !== '') process.stderr.write(msg + '\n');
      process.exitCode = 1;
    }
  };
}

/** `inspect` for every object kind: prints what was found, then fails (exit 1) with the errors of the rest. */
export async function printInspect(refs: string[], format: string, getRef: GetRef): Promise<void> {
  let result;
  try {
    result = await inspectRefs(refs, format, getRef);
  } catch (err) {
    if (err instanceof InspectTemplateError) throw new CliError(err.message);
    throw err;
  }
  process.stdout.write(result.stdout);
  if (result.errors.length > 0) throw new CliError(result.errors.join('\n'));
}

/** The `ls` leaf every docker object group shares: alias list, -q, --format, repeatable -f, host options. */
/** The frame of every `inspect` command: docker's -f/--format and --pretty, the host options, docker's usage errors. */
export function inspectCommandFrame(usage: string, description: string): Command {
  const cmd = new Command('inspect')
    .description(description)
    .usage(usage.replace(/^inspect /, ''))
    .allowExcessArguments()
    .addOption(new Option('-f, --format <string>', "Format output using a custom template: 'json', 'TEMPLATE'"))
    .option('--pretty', 'Print the information in a human friendly format');
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  return cmd;
}

export function listCommand(description: string): Command {
  const cmd = new Command('ls')
    .alias('list')
    .description(description)
    .usage('[OPTIONS]')
    .allowExcessArguments()
    .option('-q, --quiet', 'Only display IDs')
    .addOption(new Option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'"))
    .addOption(new Option('-f, --filter <filter>', 'Filter output based on conditions provided').argParser(collect));
  addHostOptions(cmd);
  dockerLeaf(cmd, 'ls [OPTIONS]');
  return cmd;
}

/** A command group as docker's: -H on it; alone it prints its help; an unknown subcommand is a usage error. */
export function commandGroup(name: string, description: string, subs: Command[], o: { positionalOptions?: boolean } = {}): Command {
  const g = new Command(name).description(description);
  addHostOptions(g);
  // `service create IMAGE CMD -x`: the leaf stops reading flags at IMAGE, which commander allows only under a
  // parent with positional options.
  if (o.positionalOptions ?? true) g.enablePositionalOptions();
  for (const sub of subs) g.addCommand(sub);
  // Like `docker service`: alone it prints its help (exit 0); an unknown subcommand is a usage error.
  g.allowExcessArguments().action(() => {
    const [first] = g.args;
    if (first === undefined) {
      g.outputHelp();
      return;
    }
    const path = commandPath(g);
    dockerUsageExit(`runsecrets: unknown command: ${path} ${first}\n\nUsage:  ${path}\n\nRun '${path} --help' for more information`);
  });
  return g;
}
