// `--config FILE` for the daemons (`manager run`, `agent run`): a YAML mapping whose keys are the command's long
// flags (kebab-case, e.g. `state-dir: /var/lib/runsecrets`). Flags given on the command line win over the file;
// a key that is no flag of the command is refused, naming the key and the file, so a typo never passes silently.
import { existsSync, readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import { parseDocument } from 'yaml';
import { errorMessage } from '../shared/errors.js';

export const CONFIG_DIR = '/etc/runsecrets';

/**
 * Adds `--config FILE` to a daemon command. Without the flag, `defaultPath` is read when it exists. `required`
 * lists the attribute names (camelCase) that must come from the command line or the file; they are checked here,
 * after the file, instead of with commander's requiredOption (which checks before any file is read).
 */
export function withConfigFile(cmd: Command, defaultPath: string, required: string[] = []): Command {
  cmd.option('--config <file>', `settings file, YAML with the long flags as keys; flags win (default: ${defaultPath} when it exists)`);
  cmd.hook('preAction', (_parent, action) => {
    const given = action.getOptionValue('config') as string | undefined;
    const path = given ?? (existsSync(defaultPath) ? defaultPath : null);
    if (path !== null) applyConfigFile(action, path);
    for (const name of required) {
      if (action.getOptionValue(name) !== undefined) continue;
      const opt = action.options.find((o) => o.attributeName() === name);
      throw new Error(`required option '${opt?.flags ?? name}' not specified (on the command line or in ${path ?? defaultPath})`);
    }
  });
  return cmd;
}

/** Reads FILE and sets every option it names that the command line did not set. */
export function applyConfigFile(cmd: Command, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the config file ${path}: ${errorMessage(err)}`);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new Error(`invalid YAML in the config file ${path}: ${doc.errors[0]!.message}`);
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return; // an empty file sets nothing
  if (typeof data !== 'object' || Array.isArray(data)) throw new Error(`the config file ${path} must be a mapping of flag names to values`);
  const known = cmd.options.filter((o) => o.long !== undefined && o.long !== '--config' && o.long !== '--help');
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const opt = known.find((o) => o.long === `--${key}`);
    if (!opt) {
      const keys = known.map((o) => o.long!.slice(2)).join(', ');
      throw new Error(`unknown key "${key}" in the config file ${path}: the keys are the long flags of "${cmd.name()}" (${keys})`);
    }
    const attr = opt.attributeName();
    const source = cmd.getOptionValueSource(attr);
    if (source === 'cli' || source === 'env') continue; // flags win
    cmd.setOptionValueWithSource(attr, optionValue(opt, key, value, path, cmd.getOptionValue(attr)), 'config');
  }
}

/** The value an option gets from the file: what commander would have made of the same flag(s) on the command line. */
function optionValue(opt: Option, key: string, value: unknown, path: string, current: unknown): unknown {
  const where = `key "${key}" in the config file ${path}`;
  if (opt.isBoolean()) {
    if (typeof value !== 'boolean') throw new Error(`${where}: expected true or false`);
    return value;
  }
  // A repeatable flag (its default is a list, like --label) takes a list; any other flag one value.
  const repeatable = Array.isArray(opt.defaultValue);
  if (Array.isArray(value) && !repeatable) throw new Error(`${where}: expected one value, not a list`);
  const items = Array.isArray(value) ? value : [value];
  let out: unknown = repeatable ? [] : current;
  for (const item of items) {
    if (typeof item !== 'string' && typeof item !== 'number') throw new Error(`${where}: expected a string or a number`);
    const s = String(item);
    if (opt.argChoices && !opt.argChoices.includes(s)) throw new Error(`${where}: "${s}" is not one of ${opt.argChoices.join(', ')}`);
    if (opt.parseArg) {
      try {
        out = opt.parseArg(s, out);
      } catch (err) {
        throw new Error(`${where}: ${errorMessage(err)}`);
      }
    } else out = s;
  }
  return out;
}
