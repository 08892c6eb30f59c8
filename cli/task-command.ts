// `runsecrets task …`: commands on the tasks of this host's agent, through its local control socket.
import { Command } from 'commander';
import { taskExecCommand } from './task/exec.js';

export function taskCommand(): Command {
  const task = new Command('task').description("Work with the running tasks of this host's agent");
  // `task exec TASK cmd -x`: the leaf passes everything after TASK through, which commander allows only under a
  // parent with positional options.
  task.enablePositionalOptions();
  task.addCommand(taskExecCommand());
  return task;
}
