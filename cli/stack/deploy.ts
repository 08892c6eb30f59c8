// `runsecrets stack deploy -c FILE STACK` (alias up): docker's call sequence and output (reference §5.2): networks
// the stack lacks are created, secrets and configs created (or their labels updated: the data of an existing one
// cannot change), services created or updated in place. No image resolution: the image is kept as written.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ObjectsApi } from '../client/objects.js';
import { SwarmApi, type Json } from '../client/swarm.js';
import { CliError, DaemonError } from '../client/errors.js';
import { action, addHostOptions, checkArgs, clientFor, collect, dockerLeaf } from '../objects/cli-support.js';
import { ComposeError, loadComposeFile, type ComposeFile, type ComposeObject } from './compose-file.js';
import { InterpolationError } from './interpolate.js';
import { fileReferences, NAMESPACE_LABEL, neededNetworks, networkCreateBody, objectName, objectSpec, scope, serviceSpec } from './convert.js';
import { checkStackName, stackFilter } from './stack-name.js';

interface DeployOpts {
  composeFile?: string[];
}

const say = (line: string): boolean => process.stdout.write(line + '\n');

async function ensureNetworks(swarm: SwarmApi, stack: string, file: ComposeFile): Promise<void> {
  const needed = neededNetworks(file);
  for (const n of needed.filter((x) => x.external)) {
    const name = objectName(stack, n);
    if (['bridge', 'host', 'none', 'default'].includes(name)) continue; // not user-defined: never inspected
    let found: Json;
    try {
      found = (await swarm.client.getJSON(`/networks/${encodeURIComponent(name)}`)).value as Json;
    } catch (err) {
      if (err instanceof DaemonError && err.status === 404) {
        throw new CliError(`network "${name}" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed`);
      }
      throw err;
    }
    if (found.Scope !== 'swarm') {
      throw new CliError(`network "${name}" is declared as external, but it is not in the right scope: "${String(found.Scope)}" instead of "swarm"`);
    }
  }
  const existing = (await swarm.client.getJSON('/networks', { filters: stackFilter(stack) })).value;
  const names = new Set((Array.isArray(existing) ? existing : []).map((n) => String((n as Json).Name)));
  for (const n of needed.filter((x) => !x.external)) {
    const body = networkCreateBody(stack, n);
    if (names.has(String(body.Name))) continue;
    say(`Creating network ${String(body.Name)}`);
    try {
      await swarm.client.call('POST', '/networks/create', { json: body });
    } catch (err) {
      if (err instanceof DaemonError) throw new CliError(`failed to create network ${String(body.Name)}: ${err.message}`);
      throw err;
    }
  }
}

/** Creates each non-external secret or config, or updates an existing one with the full spec (labels may change). */
async function ensureObjects(api: ObjectsApi, stack: string, objects: ComposeObject[]): Promise<void> {
  const kind = api.kind;
  for (const o of objects.filter((x) => !x.external)) {
    const spec = objectSpec(stack, o);
    let data: Buffer;
    try {
      data = readFileSync(o.file!);
    } catch (err) {
      throw new CliError(`open ${o.file!}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    const body = { ...spec, Data: data.toString('base64') };
    data.fill(0);
    let current: Json | null = null;
    try {
      current = (await api.inspect(spec.Name)).value as Json;
    } catch (err) {
      if (!(err instanceof DaemonError && err.status === 404)) throw err;
    }
    if (current === null) {
      say(`Creating ${kind} ${spec.Name}`);
      await api.create(body);
      continue;
    }
    const version = Number((current.Version as { Index?: number } | undefined)?.Index ?? 0);
    try {
      await api.update(String(current.ID), version, body);
    } catch (err) {
      if (err instanceof DaemonError) throw new CliError(`failed to update ${kind} ${spec.Name}: ${err.message}`);
      throw err;
    }
  }
}

/** ID of each referenced secret or config, looked up by name (GET /secrets?filters=name…). */
async function lookupIds(swarm: SwarmApi, kind: 'secret' | 'config', names: string[], service: string): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  if (names.length === 0) return ids;
  for (const o of await swarm.objectsByName(kind, names)) {
    const spec = o.Spec as { Name?: string } | undefined;
    if (spec?.Name && names.includes(spec.Name)) ids.set(spec.Name, String(o.ID));
  }
  for (const n of names) if (!ids.has(n)) throw new CliError(`service ${service}: ${kind} not found: ${n}`);
  return ids;
}

async function deployServices(swarm: SwarmApi, stack: string, file: ComposeFile): Promise<void> {
  const existing = await swarm.services(new Map([['label', new Set([`${NAMESPACE_LABEL}=${stack}`])]]), false);
  for (const s of file.services) {
    const name = scope(stack, s.key);
    const secretRefs = fileReferences(stack, s.secrets, file.secrets, 'secret', s.key);
    const configRefs = fileReferences(stack, s.configs, file.configs, 'config', s.key);
    const secretIds = await lookupIds(swarm, 'secret', secretRefs.map((r) => r.name), name);
    const configIds = await lookupIds(swarm, 'config', configRefs.map((r) => r.name), name);
    const spec = serviceSpec(
      stack,
      s,
      file,
      secretRefs.map((r) => ({ SecretID: secretIds.get(r.name)!, SecretName: r.name, File: r.File })),
      configRefs.map((r) => ({ ConfigID: configIds.get(r.name)!, ConfigName: r.name, File: r.File })),
    );
    const cur = existing.find((x) => (x.Spec as { Name?: string } | undefined)?.Name === name);
    if (cur) {
      say(`Updating service ${name} (id: ${String(cur.ID)})`);
      // docker keeps the service's ForceUpdate, so that a redeploy does not force a rolling update.
      const force = ((cur.Spec as Json).TaskTemplate as Json | undefined)?.ForceUpdate;
      if (typeof force === 'number') (spec.TaskTemplate as Json).ForceUpdate = force;
      const warnings = await swarm.updateService(String(cur.ID), Number((cur.Version as { Index?: number }).Index ?? 0), spec, false);
      for (const w of warnings) process.stderr.write(w + '\n');
    } else {
      say(`Creating service ${name}`);
      await swarm.createService(spec);
    }
  }
}

export function stackDeployCommand(): Command {
  const usage = 'deploy [OPTIONS] STACK';
  const cmd = new Command('deploy')
    .alias('up')
    .description('Deploy a new stack or update an existing stack')
    .usage('[OPTIONS] STACK')
    .allowExcessArguments()
    .addOption(new Option('-c, --compose-file <strings>', 'Path to a Compose file').argParser(collect));
  addHostOptions(cmd);
  dockerLeaf(cmd, usage);
  cmd.action(
    action(async () => {
      checkArgs(cmd, usage, cmd.args, { min: 1, max: 1 });
      const stack = checkStackName(cmd.args[0]!);
      const files = cmd.opts<DeployOpts>().composeFile ?? [];
      if (files.length !== 1) throw new CliError('runsecrets stack deploy takes exactly one compose file (-c FILE)');
      let file: ComposeFile;
      try {
        file = loadComposeFile(files[0]!);
      } catch (err) {
        if (err instanceof ComposeError || err instanceof InterpolationError) throw new CliError(err.message);
        throw err;
      }
      if (file.unsupported.length > 0) process.stderr.write(`Ignoring unsupported options: ${file.unsupported.join(', ')}\n\n`);
      const client = clientFor(cmd);
      const swarm = new SwarmApi(client);
      const info = await swarm.info();
      if ((info.Swarm as { ControlAvailable?: boolean } | undefined)?.ControlAvailable !== true) {
        throw new CliError('this node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again');
      }
      try {
        await ensureNetworks(swarm, stack, file);
        await ensureObjects(new ObjectsApi(client, 'secret'), stack, file.secrets);
        await ensureObjects(new ObjectsApi(client, 'config'), stack, file.configs);
        await deployServices(swarm, stack, file);
      } catch (err) {
        if (err instanceof ComposeError) throw new CliError(err.message);
        throw err;
      }
    }),
  );
  return cmd;
}
