// --insecure-registry / --registry-mirror on `agent run` as on `manager run` (cli/registry-options.ts): the same
// flags, repeatable, as lists in the config file (agent.yaml, manager.yaml), giving the RegistryRules the agent's
// image store takes; bad values refused with dockerd's texts before anything starts.
import t from 'tap';
import { Command } from 'commander';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addRegistryOptions, registryRulesOf, type RegistryFlags } from '../../cli/registry-options.js';
import { applyConfigFile } from '../../cli/config-file.js';
import { pullEndpoints } from '../../shared/registry-rules.js';
import { parseImageRef } from '../../shared/image-ref.js';
import { runCli } from '../helpers/manager.js';

const dir = mkdtempSync(join(tmpdir(), 'rs-regflags-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function parsed(args: string[], config?: string): RegistryFlags {
  const cmd = addRegistryOptions(new Command('run').exitOverride());
  cmd.action(() => undefined);
  cmd.hook('preAction', (_p, action) => {
    if (config !== undefined) applyConfigFile(action, config);
  });
  cmd.parse(args, { from: 'user' });
  return cmd.opts<RegistryFlags>();
}

t.test('repeatable flags give the rules: insecure hosts over HTTP, mirrors first for Docker Hub', (t) => {
  const o = parsed(['--insecure-registry', 'http://reg.lan:5000', '--insecure-registry', '10.1.0.0/16', '--registry-mirror', 'http://127.0.0.1:5001', '--registry-mirror', 'https://mirror.example']);
  t.same(o, { insecureRegistry: ['http://reg.lan:5000', '10.1.0.0/16'], registryMirror: ['http://127.0.0.1:5001', 'https://mirror.example'] });
  const rules = registryRulesOf(o);
  t.same(rules.insecure, ['reg.lan:5000', '10.1.0.0/16'], "http:// stripped as dockerd does");
  t.same(rules.mirrors.map(String), ['http://127.0.0.1:5001/', 'https://mirror.example/']);
  t.same(pullEndpoints(parseImageRef('busybox'), rules).map((e) => [e.host, e.tlsVerify, e.mirror]), [
    ['127.0.0.1:5001', false, true],
    ['mirror.example', true, true],
    ['docker.io', true, false],
  ], 'a Docker Hub image: the mirrors in order, then docker.io');
  t.same(pullEndpoints(parseImageRef('10.1.2.3:5000/app:1'), rules).map((e) => [e.host, e.tlsVerify]), [['10.1.2.3:5000', false]], 'a CIDR entry makes its hosts insecure');
  t.same(registryRulesOf(parsed([])), { insecure: [], mirrors: [] }, 'none given: no rules beyond the loopback default');
  t.end();
});

t.test('the config file takes lists (or one value) under the long flag names; flags win', (t) => {
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, 'insecure-registry: [reg.lan:5000, 10.1.0.0/16]\nregistry-mirror: http://127.0.0.1:5001\n');
  t.same(parsed([], file), { insecureRegistry: ['reg.lan:5000', '10.1.0.0/16'], registryMirror: ['http://127.0.0.1:5001'] });
  t.same(parsed(['--registry-mirror', 'http://127.0.0.1:6000'], file).registryMirror, ['http://127.0.0.1:6000'], 'the command line wins');
  t.end();
});

t.test('bad values: dockerd\'s texts, exit 1, on agent run as on manager run, from flags and from the file', async (t) => {
  const agent = await runCli(['agent', 'run', '--manager', '127.0.0.1:1', '--state-dir', join(dir, 'agent-state'), '--insecure-registry', 'ftp://reg.lan']);
  t.equal(agent.code, 1, 'agent run exits 1');
  t.equal(agent.stderr, "Error: insecure registry ftp://reg.lan should not contain '://'\n");
  const mirror = await runCli(['agent', 'run', '--standalone', '--tasks-dir', dir, '--mount', join(dir, 'mnt'), '--registry-mirror', 'http://user:pw@mirror.lan']);
  t.equal(mirror.code, 1);
  t.equal(mirror.stderr, 'Error: invalid mirror: username/password not allowed in URI "http://user:pw@mirror.lan"\n');
  const file = join(dir, 'bad-agent.yaml');
  writeFileSync(file, `manager: 127.0.0.1:1\nstate-dir: ${join(dir, 'agent-state')}\nregistry-mirror: [ftp://mirror.lan]\n`);
  const fromFile = await runCli(['agent', 'run', '--config', file]);
  t.equal(fromFile.code, 1);
  t.equal(fromFile.stderr, 'Error: invalid mirror: unsupported scheme "ftp" in "ftp://mirror.lan"\n');
  const mgr = await runCli(['manager', 'run', '--state-dir', join(dir, 'no-state'), '--socket', join(dir, 'm.sock'), '--listen', 'none', '--insecure-registry', 'ftp://reg.lan']);
  t.equal(mgr.code, 1, 'manager run exits 1');
  t.match(mgr.stderr, "insecure registry ftp://reg.lan should not contain '://'", 'with the same text');
});
