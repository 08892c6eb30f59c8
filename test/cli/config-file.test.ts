// `--config FILE` of `manager run` and `agent run` (cli/config-file.ts), on the real binary: keys are the long
// flags, flags win over the file, an unknown key or a wrong value is refused naming the key and the file, and
// nothing starts then.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, childEnv, runCli, waitFor } from '../helpers/manager.js';
import { fuseSkip } from '../helpers/env.js';
import { forceUnmount, isMounted } from '../helpers/agent.js';

const dir = mkdtempSync(join(tmpdir(), 'rs-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const stateDir = join(dir, 'state');

function configFile(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

t.before(async () => {
  const r = await runCli(['manager', 'init', '--state-dir', stateDir]);
  if (r.code !== 0) throw new Error(`manager init failed: ${r.stderr}`);
});

t.test('an unknown key is refused, naming the key and the file; nothing starts', async (t) => {
  const file = configFile('typo.yaml', `state-dir: ${stateDir}\nlisten: none\nsocket: ${join(dir, 'typo.sock')}\nstatedir: /elsewhere\n`);
  const r = await runCli(['manager', 'run', '--config', file]);
  t.equal(r.code, 1, 'exit 1');
  t.match(r.stderr, `Error: unknown key "statedir" in the config file ${file}`);
  t.match(r.stderr, /state-dir, socket, listen, metrics-listen, peer-manager, log-level/, "lists the keys it knows");
  t.notOk(existsSync(join(dir, 'typo.sock')), 'no manager was started');
  const a = await runCli(['agent', 'run', '--config', configFile('agent-typo.yaml', 'standalone: true\ntask-dir: /x\n')]);
  t.equal(a.code, 1);
  t.match(a.stderr, `unknown key "task-dir" in the config file ${join(dir, 'agent-typo.yaml')}`);
});

t.test('wrong values are refused with the key and the file', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['log-level: loud\n', 'manager', /key "log-level" in the config file .*: "loud" is not one of fatal, error/],
    ['listen: [a, b]\n', 'manager', /key "listen" in the config file .*: expected one value, not a list/],
    ['standalone: "yes"\n', 'agent', /key "standalone" in the config file .*: expected true or false/],
    ['label: [{a: b}]\n', 'agent', /key "label" in the config file .*: expected a string or a number/],
    ['- state-dir\n', 'manager', /must be a mapping of flag names to values/],
    ['a: [\n', 'manager', /invalid YAML in the config file/],
  ];
  for (const [text, daemon, re] of cases) {
    const r = await runCli([daemon, 'run', '--state-dir', stateDir, '--config', configFile('bad.yaml', text)]);
    t.equal(r.code, 1, `${daemon}: ${text.trim()}: exit 1`);
    t.match(r.stderr, re, text.trim());
  }
  const missing = await runCli(['manager', 'run', '--config', join(dir, 'absent.yaml')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, `cannot read the config file ${join(dir, 'absent.yaml')}: ENOENT`);
  const noState = await runCli(['manager', 'run', '--config', configFile('empty.yaml', '')]);
  t.equal(noState.code, 1);
  t.match(noState.stderr, `required option '--state-dir <dir>' not specified (on the command line or in ${join(dir, 'empty.yaml')})`);
});

t.test('the file sets the flags; a flag on the command line wins', async (t) => {
  const fileSock = join(dir, 'file.sock');
  const cliSock = join(dir, 'cli.sock');
  const file = configFile('manager.yaml', `state-dir: ${stateDir}\nlisten: none\nsocket: ${fileSock}\nlog-level: debug\n`);
  const proc = spawn(process.execPath, [BIN, 'manager', 'run', '--config', file, '--socket', cliSock], { env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let logs = '';
  proc.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
  const exited = new Promise<number | null>((r) => proc.once('close', (c) => r(c)));
  t.teardown(() => {
    proc.kill('SIGKILL');
  });
  await waitFor(() => existsSync(cliSock), 'the manager socket from the command line', 20_000);
  t.notOk(existsSync(fileSock), "the file's socket was overridden");
  t.ok(logs.includes('"level":"info"'), 'started');
  const ls = await runCli(['secret', 'ls', '-q'], { env: { RUNSECRETS_HOST: `unix://${cliSock}` } });
  t.equal(ls.code, 0, `the state dir from the file serves: ${ls.stderr}`);
  proc.kill('SIGTERM');
  t.equal(await exited, 0);
});

t.test('a standalone agent runs from its config file (switch, paths, flags winning)', fuseSkip(), async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'rs-config-agent-'));
  chmodSync(base, 0o755);
  const tasks = join(base, 'tasks');
  mkdirSync(tasks);
  writeFileSync(join(tasks, 'src.txt'), 'config-file-probe');
  writeFileSync(join(tasks, 'web.yaml'), 'secrets:\n  - file: ./src.txt\n    target: pw\n');
  const fileMount = join(base, 'file-mnt');
  const cliMount = join(base, 'cli-mnt');
  t.teardown(() => {
    forceUnmount(cliMount);
    forceUnmount(fileMount);
    rmSync(base, { recursive: true, force: true });
  });
  const file = configFile('agent.yaml', `standalone: true\ntasks-dir: ${tasks}\nmount: ${fileMount}\nlog-level: warn\n`);
  const proc = spawn(process.execPath, [BIN, 'agent', 'run', '--config', file, '--mount', cliMount], { env: childEnv(), stdio: ['ignore', 'ignore', 'ignore'] });
  const exited = new Promise<number | null>((r) => proc.once('close', (c) => r(c)));
  t.teardown(() => {
    proc.kill('SIGKILL');
  });
  await waitFor(() => existsSync(join(cliMount, 'web', 'pw')), 'the task file on the mount from the command line', 20_000);
  t.ok(isMounted(cliMount), 'mounted where the flag says');
  t.notOk(isMounted(fileMount), "not where the file says: the flag won");
  t.equal(readFileSync(join(cliMount, 'web', 'pw'), 'utf8'), 'config-file-probe', 'standalone from the file: its tasks are served');
  proc.kill('SIGTERM');
  t.equal(await exited, 0, 'clean stop');
});
