// `runsecrets task exec [OPTIONS] TASK [--] CMD [ARG...]`: docker exec for a task of this host's agent. The agent
// (control socket) names the task's process, user, folder and environment; we enter its mount namespace ourselves
// with stdio inherited, so the terminal, stdin, signals and the exit code are the command's own, as with docker.
// A task in a container is entered with the runc exec the agent gives, with the same stdio: the command then runs
// under the container's seccomp filter, capabilities and cgroup, as docker exec's does.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync, readFileSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { Command } from 'commander';
import { defaultControlSocket, processStartTime, type ExecCommandRequest, type ExecTarget } from '../../agent/control/protocol.js';
import { DEFAULT_PATH, parseUser } from '../../agent/executor/spec.js';
import { findTools } from '../../agent/executor/tools.js';
import { privilegeDrop } from '../../agent/executor/launcher.js';
import { DEFAULT_STATE_DIR } from '../../agent/session/join.js';
import { errorMessage } from '../../shared/errors.js';
import { askExecTarget, ExecError } from './agent-control.js';

interface ExecOpts {
  user?: string;
  workdir?: string;
  env?: string[];
  interactive?: boolean;
  tty?: boolean;
  stateDir: string;
  agentSocket?: string;
}

// Closes every fd above 2 (listed through the task's /proc, where this shell now is), then runs its arguments.
const CLOSE_FDS_AND_EXEC = 'for n in /proc/self/fd/*; do n=${n##*/}; if [ "$n" -gt 2 ]; then { exec {n}>&-; } 2>/dev/null; fi; done; exec "$@"';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** docker's -e: K=V, or K alone for this shell's value (left out when unset there). */
function extraEnv(list: string[]): string[] {
  const out: string[] = [];
  for (const e of list) {
    const eq = e.indexOf('=');
    const k = eq < 0 ? e : e.slice(0, eq);
    if (k === '' || e.includes('\0')) throw new ExecError(`invalid environment variable "${e}": expected KEY=VALUE`);
    if (eq >= 0) out.push(e);
    else if (process.env[k] !== undefined) out.push(`${k}=${process.env[k]}`);
  }
  return out;
}

/** The task's namespaces that a command in it joins, in the order of the fds (3, 4, ...) nsenter gets them on. */
const NAMESPACES = ['mnt', 'pid', 'uts', 'ipc'] as const;
const NSENTER_FLAG: Record<(typeof NAMESPACES)[number], string> = { mnt: '--mount', pid: '--pid', uts: '--uts', ipc: '--ipc' };

/**
 * Opens the task's namespaces, checking that the pid is still the task's process before and after (its start
 * time, as the agent saw it): a pid reused by another process is refused, never entered.
 */
function openTaskNamespaces(t: ExecTarget, dir: string): number[] {
  const gone = (): ExecError => new ExecError(`task ${t.id} (${t.name}) is not running (its process ${t.pid} is gone)`);
  if (processStartTime(t.pid) !== t.pidStart) throw gone();
  const fds: number[] = [];
  try {
    for (const ns of NAMESPACES) {
      try {
        fds.push(openSync(`/proc/${t.pid}/ns/${ns}`, fsConstants.O_RDONLY));
      } catch (err) {
        throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? gone() : new ExecError(`cannot open the ${ns} namespace of task ${t.id}: ${errorMessage(err)}`);
      }
    }
    if (processStartTime(t.pid) !== t.pidStart) throw gone();
    // /proc/PID/root sees the task's mounts: the folder is checked where the command will run.
    let isDir = false;
    try {
      isDir = statSync(`/proc/${t.pid}/root${dir}`).isDirectory();
    } catch {
      /* missing */
    }
    if (!isDir) throw new ExecError(`working folder "${dir}" does not exist inside task ${t.id} (${t.name})`, 126);
    return fds;
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The command line checks both paths share; throws ExecError. */
function checkArgv(argv: string[]): void {
  if (argv.length === 0 || argv[0] === '') throw new ExecError('exec needs a command');
  if (argv[0]!.includes('=')) throw new ExecError(`invalid command "${argv[0]}": an executable name cannot contain "="`);
  if (argv.some((a) => a.includes('\0'))) throw new ExecError('invalid command: argument contains a NUL byte');
}

/** Resolves with the child's exit code (128+n when a signal ended it), forwarding our signals as `forward` says. */
function exitOf(child: ChildProcess, what: string, forward: (sig: NodeJS.Signals) => void): Promise<number> {
  for (const s of FORWARDED) process.on(s, forward);
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      for (const s of FORWARDED) process.off(s, forward);
    };
    child.once('error', (err) => {
      cleanup();
      reject(new ExecError(`cannot start ${what}: ${err.message}`));
    });
    child.once('exit', (code, sig) => {
      cleanup();
      resolve(code ?? 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0));
    });
  });
}

/** A container's task: the agent's runc exec, run as given; runc passes our signals on to the command. */
function runInContainer(command: NonNullable<ExecTarget['command']>, o: ExecOpts): Promise<number> {
  const child = spawn(command.file, command.args, { stdio: [o.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'], env: command.env ?? { PATH: DEFAULT_PATH }, cwd: '/' });
  return exitOf(child, command.file, (sig) => child.kill(sig));
}

/** Runs the command; resolves with its exit code (128+n when a signal ended it). */
function runInTask(t: ExecTarget, exec: ExecCommandRequest, o: ExecOpts): Promise<number> {
  const argv = exec.argv;
  let who = { uid: t.uid, gid: t.gid };
  if (o.user !== undefined) {
    try {
      who = parseUser(o.user);
    } catch (err) {
      throw new ExecError(errorMessage(err));
    }
  }
  const dir = o.workdir ?? t.dir;
  if (!dir.startsWith('/')) throw new ExecError(`invalid working folder "${dir}": it must be an absolute path`);
  const env = [...t.env, ...(exec.env ?? [])];
  const tools = findTools();
  const nsFds = openTaskNamespaces(t, dir);
  // nsenter enters the namespaces held open by fds 3-6 (the process we checked, whatever the pid means by now) and
  // forks, so that the command is in the task's PID namespace. bash then closes every descriptor above 2: those fds,
  // and any that whoever ran us left open without close-on-exec (`exec 200</etc/shadow; runsecrets task exec …`
  // would otherwise hand that file to the task's user). setpriv starts the user as the task's launcher does
  // (Docker's capabilities for root, no_new_privs), env sets the task's environment and folder.
  const child = spawn(
    tools.nsenter,
    [
      ...NAMESPACES.map((ns, i) => `${NSENTER_FLAG[ns]}=/proc/self/fd/${3 + i}`), '--',
      // --norc: bash reads ~/.bashrc when stdin is a socket (as from node's spawn) unless told not to.
      tools.bash, '--norc', '--noprofile', '-c', CLOSE_FDS_AND_EXEC, 'rs-exec',
      ...privilegeDrop(tools.setpriv, who),
      tools.env, '-i', '-C', dir, ...env, ...argv,
    ],
    { stdio: [o.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit', ...nsFds], env: { PATH: DEFAULT_PATH }, cwd: '/' },
  );
  for (const fd of nsFds) closeSync(fd);
  // nsenter forked the command into the task's PID namespace and only waits for it: the signal is the command's.
  const forward = (sig: NodeJS.Signals): void => {
    const inTask = child.pid === undefined ? [] : childrenOf(child.pid);
    if (inTask.length === 0) child.kill(sig);
    for (const pid of inTask) {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone meanwhile */
      }
    }
  };
  return exitOf(child, tools.nsenter, forward);
}

export function taskExecCommand(): Command {
  const cmd = new Command('exec')
    .description("Run a command in a running task of this host's agent")
    .usage('[OPTIONS] TASK [--] COMMAND [ARG...]')
    .argument('<task>', 'task ID, unique ID prefix, or name (SERVICE.SLOT as `service ps` shows it)')
    .argument('<command...>', 'the command and its arguments')
    .option('-u, --user <uid[:gid]>', "numeric user to run as (default: the task's user)")
    .option('-w, --workdir <dir>', "working folder inside the task (default: the task's)")
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable; KEY alone takes this shell\'s value)', collect)
    .option('-i, --interactive', 'keep stdin open (pass it to the command)')
    .option('-t, --tty', "accepted for docker's -it: the command uses this terminal as is (no new pseudo-terminal)")
    .option('--state-dir <dir>', "the agent's state dir, where its control socket agent.sock is", DEFAULT_STATE_DIR)
    .option('--agent-socket <path>', "the agent's control socket (default: <state-dir>/agent.sock)")
    // Everything after TASK is the command's, flags included (`exec web.1 ls -l`), as docker reads it.
    .passThroughOptions()
    .action(async (task: string, command: string[], o: ExecOpts) => {
      const argv = command[0] === '--' ? command.slice(1) : command;
      try {
        checkArgv(argv);
        if (o.workdir !== undefined && !o.workdir.startsWith('/')) throw new ExecError(`invalid working folder "${o.workdir}": it must be an absolute path`);
        const exec: ExecCommandRequest = {
          argv,
          tty: o.tty === true,
          ...(o.user !== undefined ? { user: o.user } : {}),
          ...(o.workdir !== undefined ? { workingDir: o.workdir } : {}),
          env: extraEnv(o.env ?? []),
        };
        const target = await askExecTarget(o.agentSocket ?? defaultControlSocket(o.stateDir), task, exec);
        process.exitCode = target.command ? await runInContainer(target.command, o) : await runInTask(target, exec, o);
      } catch (err) {
        process.stderr.write(`Error: ${errorMessage(err)}\n`);
        process.exitCode = err instanceof ExecError ? err.exitCode : 1;
      }
    });
  return cmd;
}
