// `runsecrets help CMD SUB` prints that subcommand's help (commander's help command only looked one level down and
// printed the group's help for `help service create`).
import t from 'tap';
import { runCli } from '../helpers/manager.js';
import { helpArgv } from '../../cli/main.js';

t.test('help CMD SUB is CMD SUB --help', async (t) => {
  t.same(helpArgv(['help', 'service', 'create']), ['service', 'create', '--help']);
  t.same(helpArgv(['help', 'manager']), ['manager', '--help']);
  t.same(helpArgv(['help']), ['help'], 'bare help stays the root help');
  t.same(helpArgv(['secret', 'help']), ['secret', 'help']);
});

t.test('the printed help is the subcommand one, exit 0', async (t) => {
  for (const path of [['service', 'create'], ['manager', 'join-token'], ['agent', 'run']]) {
    const viaHelp = await runCli(['help', ...path]);
    const viaFlag = await runCli([...path, '--help']);
    t.equal(viaHelp.code, 0, `help ${path.join(' ')} exits 0`);
    t.match(viaHelp.stdout, new RegExp(`^Usage: runsecrets ${path.join(' ')} `), `help ${path.join(' ')} prints its own usage`);
    t.equal(viaHelp.stdout, viaFlag.stdout, `the same text as ${path.join(' ')} --help`);
  }
  const group = await runCli(['help', 'service']);
  t.match(group.stdout, /^Usage: runsecrets service /);
  t.match(group.stdout, /create/);
});
