// The service flags docker's `service create` and `service update` take (the subset runsecrets supports), parsed
// and validated as pflag and docker's option types do, with docker's error texts.
import { Command, Option } from 'commander';
import { goQuote } from '../format/go-quote.js';
import { collect, flagError } from '../objects/cli-support.js';
import { labelError } from '../objects/validate.js';
import { parseFileRef, RefParseError, type FileRef, type RefKind } from '../swarm/file-refs.js';
import { GoParseError, parseDuration, parseUint } from '../swarm/go-parse.js';

/** Raw commander values; every repeatable flag collects strings. */
export interface RawServiceOpts {
  name?: string;
  label?: string[];
  labelAdd?: string[];
  labelRm?: string[];
  env?: string[];
  envAdd?: string[];
  envRm?: string[];
  workdir?: string;
  user?: string;
  replicas?: string;
  mode?: string;
  constraint?: string[];
  constraintAdd?: string[];
  constraintRm?: string[];
  restartCondition?: string;
  restartDelay?: string;
  restartMaxAttempts?: string;
  stopGracePeriod?: string;
  secret?: string[];
  secretAdd?: string[];
  secretRm?: string[];
  config?: string[];
  configAdd?: string[];
  configRm?: string[];
  image?: string;
  args?: string;
  force?: boolean;
  detach?: boolean;
  quiet?: boolean;
  noResolveImage?: boolean;
}

/** Validated values; `undefined` means the flag was not given (pflag's Changed). */
export interface ServiceOpts {
  name?: string;
  labels: string[];
  labelRm: string[];
  env: string[];
  envRm: string[];
  workdir?: string;
  user?: string;
  replicas?: number;
  mode?: string;
  constraints: string[];
  constraintRm: string[];
  restartCondition?: string;
  restartDelay?: number;
  restartMaxAttempts?: number;
  stopGracePeriod?: number;
  secrets: FileRef[];
  secretRm: string[];
  configs: FileRef[];
  configRm: string[];
  image?: string;
  args?: string[];
  force: boolean;
}

export function addCommonServiceFlags(cmd: Command, update: boolean): void {
  const many = (flags: string, desc: string): Option => new Option(flags, desc).argParser(collect);
  if (update) {
    cmd.addOption(new Option('--args <command>', 'Service command args'));
    cmd.addOption(many('--config-add <config>', 'Add or update a config file on a service'));
    cmd.addOption(many('--config-rm <list>', 'Remove a configuration file'));
    cmd.addOption(many('--constraint-add <list>', 'Add or update a placement constraint'));
    cmd.addOption(many('--constraint-rm <list>', 'Remove a constraint'));
  } else {
    cmd.addOption(many('--config <config>', 'Specify configurations to expose to the service'));
    cmd.addOption(many('--constraint <list>', 'Placement constraints'));
  }
  cmd.option('-d, --detach', 'Exit immediately instead of waiting for the service to converge');
  if (update) {
    cmd.addOption(many('--env-add <list>', 'Add or update an environment variable'));
    cmd.addOption(many('--env-rm <list>', 'Remove an environment variable'));
    cmd.option('--force', 'Force update even if no changes require it');
    cmd.addOption(new Option('--image <string>', 'Service image tag'));
    cmd.addOption(many('--label-add <list>', 'Add or update a service label'));
    cmd.addOption(many('--label-rm <list>', 'Remove a label by its key'));
  } else {
    cmd.addOption(many('-e, --env <list>', 'Set environment variables'));
    cmd.addOption(many('-l, --label <list>', 'Service labels'));
    cmd.addOption(new Option('--mode <string>', 'Service mode ("replicated", "global")'));
    cmd.addOption(new Option('--name <string>', 'Service name'));
  }
  cmd.option('--no-resolve-image', 'Do not query the registry to resolve image digest and supported platforms');
  cmd.option('-q, --quiet', 'Suppress progress output');
  cmd.addOption(new Option('--replicas <uint>', 'Number of tasks'));
  cmd.addOption(new Option('--restart-condition <string>', 'Restart when condition is met ("none", "on-failure", "any")'));
  cmd.addOption(new Option('--restart-delay <duration>', 'Delay between restart attempts (ns|us|ms|s|m|h)'));
  cmd.addOption(new Option('--restart-max-attempts <uint>', 'Maximum number of restarts before giving up'));
  if (update) {
    cmd.addOption(many('--secret-add <secret>', 'Add or update a secret on a service'));
    cmd.addOption(many('--secret-rm <list>', 'Remove a secret'));
  } else {
    cmd.addOption(many('--secret <secret>', 'Specify secrets to expose to the service'));
  }
  cmd.addOption(new Option('--stop-grace-period <duration>', 'Time to wait before force killing a container (ns|us|ms|s|m|h)'));
  cmd.addOption(new Option('-u, --user <string>', 'Username or UID (format: <name|uid>[:<group|gid>])'));
  cmd.addOption(new Option('-w, --workdir <string>', 'Working directory inside the container'));
}

/** opts.ValidateEnv: a name without "=" takes its value from our environment when it is set there. */
export function expandEnv(value: string, env: NodeJS.ProcessEnv = process.env): string {
  const eq = value.indexOf('=');
  const key = eq < 0 ? value : value.slice(0, eq);
  if (eq >= 0) return value;
  const v = env[key];
  return v !== undefined ? `${key}=${v}` : value;
}

/** Validates the raw values in docker's flag order; a bad one ends with docker's flag error. */
export function validateServiceOpts(cmd: Command, usage: string, raw: RawServiceOpts): ServiceOpts {
  const bad = (flag: string, value: string, why: string): never =>
    flagError(cmd, usage, `invalid argument ${goQuote(value)} for "${flag}" flag: ${why}`);
  const uint = (flag: string, value: string | undefined, base: 0 | 10): number | undefined => {
    if (value === undefined) return undefined;
    try {
      return Number(parseUint(value, base, 64));
    } catch (e) {
      if (e instanceof GoParseError) bad(flag, value, e.message);
      throw e;
    }
  };
  const duration = (flag: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    try {
      return parseDuration(value);
    } catch (e) {
      if (e instanceof GoParseError) bad(flag, value, e.message);
      throw e;
    }
  };
  const refs = (kind: RefKind, flag: string, values: string[] | undefined): FileRef[] =>
    (values ?? []).map((v) => {
      try {
        return parseFileRef(kind, v);
      } catch (e) {
        if (e instanceof RefParseError) bad(flag, v, e.message);
        throw e;
      }
    });
  const labels = raw.label ?? raw.labelAdd ?? [];
  const labelFlag = raw.label ? '-l, --label' : '--label-add';
  for (const l of labels) {
    const why = labelError(l);
    if (why) bad(labelFlag, l, why);
  }
  const envValues = raw.env ?? raw.envAdd ?? [];
  for (const e of envValues) {
    if (e === '' || e.startsWith('=')) bad(raw.env ? '-e, --env' : '--env-add', e, `invalid environment variable: ${e}`);
  }
  return {
    name: raw.name,
    labels,
    labelRm: raw.labelRm ?? [],
    env: envValues.map((e) => expandEnv(e)),
    envRm: raw.envRm ?? [],
    workdir: raw.workdir,
    user: raw.user,
    replicas: uint('--replicas', raw.replicas, 0),
    mode: raw.mode,
    constraints: raw.constraint ?? raw.constraintAdd ?? [],
    constraintRm: raw.constraintRm ?? [],
    restartCondition: raw.restartCondition,
    restartDelay: duration('--restart-delay', raw.restartDelay),
    restartMaxAttempts: uint('--restart-max-attempts', raw.restartMaxAttempts, 0),
    stopGracePeriod: duration('--stop-grace-period', raw.stopGracePeriod),
    secrets: refs('secret', raw.secret ? '--secret' : '--secret-add', raw.secret ?? raw.secretAdd),
    secretRm: raw.secretRm ?? [],
    configs: refs('config', raw.config ? '--config' : '--config-add', raw.config ?? raw.configAdd),
    configRm: raw.configRm ?? [],
    image: raw.image,
    args: raw.args === undefined ? undefined : shellSplit(raw.args),
    force: raw.force ?? false,
  };
}

/** google/shlex's split, as docker's --args uses it: whitespace-separated words, quotes and backslashes. */
export function shellSplit(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (ch === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (ch === "'") {
      const end = s.indexOf("'", i + 1);
      cur += end < 0 ? s.slice(i + 1) : s.slice(i + 1, end);
      i = end < 0 ? s.length : end;
      inWord = true;
    } else if (ch === '"') {
      i++;
      for (; i < s.length && s[i] !== '"'; i++) cur += s[i] === '\\' && i + 1 < s.length ? s[++i] : s[i];
      inWord = true;
    } else if (ch === '#' && !inWord) {
      break;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}
