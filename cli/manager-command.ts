// `runsecrets manager …`: cluster init, run, join tokens, unlock, unlock keys, admin certificates. (issue 3)
// init and run work on the state dir; the other commands ask the running manager over its socket, because only
// that process holds the opened keys.
import { Command, Option } from 'commander';
import { mkdirSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, flushLogs, isLogLevel, LOG_LEVELS } from '../shared/log.js';
import { errorMessage } from '../shared/errors.js';
import { createCsrPem, generateKeyPair, privateKeyPem } from '../shared/pki.js';
import { initCluster } from '../manager/cluster/state.js';
import { acquirePidLock } from '../manager/cluster/pidlock.js';
import { Manager } from '../manager/manager.js';
import { writeFileDurable } from '../manager/cluster/files.js';
import { adminRequest, DaemonError, DEFAULT_SOCKET } from './manager-admin.js';
import { parseDuration } from './swarm/go-parse.js';
import { makeRules, type RegistryRules } from '../shared/registry-rules.js';

const DEFAULT_LISTEN = '0.0.0.0:2377';

/** Prints an error as docker does (daemon errors prefixed) and sets exit status 1. */
function fail(err: unknown): void {
  const msg = err instanceof DaemonError ? `Error response from daemon: ${err.message}` : `Error: ${errorMessage(err)}`;
  process.stderr.write(msg + '\n');
  process.exitCode = 1;
}

function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      fail(err);
    }
  };
}

function socketOption(): Option {
  return new Option('--socket <path>', "the manager's Unix socket").default(DEFAULT_SOCKET);
}

function joinCommandText(role: 'worker' | 'manager', token: string, addr: string): string {
  return `To add a ${role} to this swarm, run the following command:\n\n    runsecrets agent run --manager ${addr} --token ${token}\n\n`;
}

const UNLOCK_KEY_TEXT = (key: string): string =>
  'To unlock a swarm manager after it restarts, run the `runsecrets manager unlock`\n' +
  'command and provide the following key:\n\n' +
  `    ${key}\n\n` +
  'Please remember to store this key in a password manager, since without it you\n' +
  'will not be able to restart the manager.\n';

interface SwarmInfo {
  Version: { Index: number };
  JoinTokens: { Worker: string; Manager: string };
}

async function swarmInfo(socket: string): Promise<SwarmInfo> {
  return (await adminRequest(socket, 'GET', '/swarm')).body as SwarmInfo;
}

async function advertiseAddr(socket: string): Promise<string> {
  const info = (await adminRequest(socket, 'GET', '/info')).body as { Swarm?: { RemoteManagers?: { Addr: string }[] } };
  return info.Swarm?.RemoteManagers?.[0]?.Addr ?? '<manager-address>:2377';
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => {
      chunks.push(c);
      if (Buffer.concat(chunks).includes(0x0a)) process.stdin.pause(); // one line is the key
    });
    process.stdin.on('pause', () => resolve(Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? ''));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? ''));
    process.stdin.on('error', reject);
  });
}

/** A Go duration (docker's --dispatcher-heartbeat), whole milliseconds from 50 ms to 1 h. */
function heartbeatOption(s: string): number {
  let ns: number;
  try {
    ns = parseDuration(s);
  } catch (err) {
    throw new Error(`invalid argument "${s}" for "--dispatcher-heartbeat" flag: ${errorMessage(err)}`);
  }
  const ms = ns / 1e6;
  if (!Number.isInteger(ms) || ms < 50 || ms > 3_600_000) throw new Error(`invalid --dispatcher-heartbeat "${s}": expected a duration from 50ms to 1h in whole milliseconds`);
  return ms;
}

function initCommand(): Command {
  return new Command('init')
    .description('Create a cluster: CA, manager certificate, encrypted store and join tokens')
    .requiredOption('--state-dir <dir>', 'where the cluster state is kept (created 0700)')
    .option('--autolock', 'keep the data key locked by an unlock key that must be given after every restart', false)
    .option('--advertise-addr <addr:port>', 'the address agents will join (default: first non-loopback IPv4, port 2377)')
    .option('--dispatcher-heartbeat <duration>', 'heartbeat period of the agents; a node not heard from for 3 periods is down and its tasks move (default 5s)')
    .action(
      action(async (o: { stateDir: string; autolock: boolean; advertiseAddr?: string; dispatcherHeartbeat?: string }) => {
        process.umask(0o077);
        const heartbeatMs = o.dispatcherHeartbeat === undefined ? undefined : heartbeatOption(o.dispatcherHeartbeat);
        const r = await initCluster(o.stateDir, { autolock: o.autolock, advertiseAddr: o.advertiseAddr, heartbeatMs });
        let out =
          `Swarm initialized: current node (${r.config.nodeId}) is now a manager.\n\n` +
          joinCommandText('worker', r.workerToken, r.config.advertiseAddr) +
          "To add a manager to this swarm, run 'runsecrets manager join-token manager' and follow the instructions.\n";
        if (r.unlockKey) out += '\n' + UNLOCK_KEY_TEXT(r.unlockKey);
        process.stdout.write(out);
      }),
    );
}

/** commander's way to take a repeated option into a list. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function runCommand(): Command {
  return new Command('run')
    .description('Serve the API on the Unix socket and on TCP with mutual TLS')
    .requiredOption('--state-dir <dir>', 'the cluster state made by "manager init"')
    .addOption(socketOption())
    .option('--listen <addr:port>', 'TCP address for mutual TLS ("none" to disable)', DEFAULT_LISTEN)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS as string[]).default('info'))
    .option('--insecure-registry <host[:port]|cidr>', "a registry spoken to over plain HTTP (dockerd's insecure-registries; 127.0.0.0/8 always is); repeatable", collect, [])
    .option('--registry-mirror <url>', "a mirror tried before Docker Hub for docker.io images (dockerd's registry-mirrors); repeatable", collect, [])
    .action(
      action(async (o: { stateDir: string; socket: string; listen: string; logLevel: string; insecureRegistry: string[]; registryMirror: string[] }) => {
        process.umask(0o077);
        const log = createLogger('manager', isLogLevel(o.logLevel) ? o.logLevel : 'info');
        const registry: RegistryRules = makeRules(o.insecureRegistry, o.registryMirror); // bad values: error, exit 1
        const manager = new Manager({ stateDir: o.stateDir, socketPath: o.socket, listen: o.listen === 'none' ? null : o.listen, log, registry });
        const release = acquirePidLock(o.stateDir);
        try {
          await manager.start();
        } catch (err) {
          release();
          await manager.stop().catch(() => undefined);
          log.fatal({ err: errorMessage(err) }, 'manager failed to start');
          fail(err);
          await flushLogs();
          process.exit(1); // nothing half-started may keep the process alive
        }
        await new Promise<void>((resolve) => {
          let stopping = false;
          const onSignal = (sig: NodeJS.Signals): void => {
            if (stopping) return;
            stopping = true;
            log.info({ signal: sig }, 'stopping');
            manager
              .stop()
              .catch((err: unknown) => {
                log.error({ err: errorMessage(err) }, 'error while stopping');
                process.exitCode = 1;
              })
              .finally(() => {
                release();
                resolve();
              });
          };
          process.on('SIGINT', onSignal);
          process.on('SIGTERM', onSignal);
        });
        // Anything left (idle sockets, timers) must not keep a stopped manager alive.
        await flushLogs();
        process.exit(process.exitCode ?? 0);
      }),
    );
}

function joinTokenCommand(): Command {
  return new Command('join-token')
    .description('Show (or rotate) the join token for workers or managers')
    .argument('<role>', 'worker or manager')
    .option('--rotate', 'rotate the join token', false)
    .option('-q, --quiet', 'only display the token', false)
    .addOption(socketOption())
    .action(
      action(async (role: string, o: { rotate: boolean; quiet: boolean; socket: string }) => {
        if (role !== 'worker' && role !== 'manager') throw new Error(`unknown role ${role}: use worker or manager`);
        if (o.rotate) {
          const cur = await swarmInfo(o.socket);
          const flag = role === 'worker' ? 'rotateWorkerToken' : 'rotateManagerToken';
          await adminRequest(o.socket, 'POST', `/swarm/update?version=${cur.Version.Index}&${flag}=true`, {});
          if (!o.quiet) process.stdout.write(`Successfully rotated ${role} join token.\n\n`);
        }
        const info = await swarmInfo(o.socket);
        const token = role === 'worker' ? info.JoinTokens.Worker : info.JoinTokens.Manager;
        if (o.quiet) process.stdout.write(token + '\n');
        else process.stdout.write(joinCommandText(role, token, await advertiseAddr(o.socket)));
      }),
    );
}

function unlockCommand(): Command {
  return new Command('unlock')
    .description('Unlock a locked manager: reads the unlock key from stdin')
    .addOption(socketOption())
    .action(
      action(async (o: { socket: string }) => {
        if (process.stdin.isTTY) process.stderr.write('Please enter unlock key: ');
        const key = (await readStdin()).trim();
        if (key === '') throw new Error('no unlock key on stdin');
        await adminRequest(o.socket, 'POST', '/swarm/unlock', { UnlockKey: key });
      }),
    );
}

function unlockKeyCommand(): Command {
  return new Command('unlock-key')
    .description('Show (or rotate) the unlock key of an autolocked manager')
    .option('--rotate', 'rotate the unlock key', false)
    .option('-q, --quiet', 'only display the key', false)
    .addOption(socketOption())
    .action(
      action(async (o: { rotate: boolean; quiet: boolean; socket: string }) => {
        if (o.rotate) {
          const cur = await swarmInfo(o.socket);
          await adminRequest(o.socket, 'POST', `/swarm/update?version=${cur.Version.Index}&rotateManagerUnlockKey=true`, {});
          if (!o.quiet) process.stdout.write('Successfully rotated manager unlock key.\n\n');
        }
        const key = ((await adminRequest(o.socket, 'GET', '/swarm/unlockkey')).body as { UnlockKey?: string }).UnlockKey ?? '';
        if (key === '') throw new Error('no unlock key is set');
        process.stdout.write(o.quiet ? key + '\n' : UNLOCK_KEY_TEXT(key));
      }),
    );
}

function certCommand(): Command {
  const cert = new Command('cert').description('Issue certificates signed by the cluster CA');
  cert
    .command('admin')
    .description('Issue an admin client certificate for remote use (ca.pem, cert.pem, key.pem, as docker expects)')
    .requiredOption('--out <dir>', 'folder for ca.pem, cert.pem and key.pem (created 0700)')
    .addOption(socketOption())
    .action(
      action(async (o: { out: string; socket: string }) => {
        for (const f of ['cert.pem', 'key.pem']) {
          if (existsSync(join(o.out, f))) throw new Error(`${join(o.out, f)} already exists; refusing to overwrite it`);
        }
        // The private key is made here and never leaves this process; the manager only sees the CSR.
        const keys = await generateKeyPair();
        const csr = await createCsrPem(keys, 'runsecrets-admin');
        const r = (await adminRequest(o.socket, 'POST', '/runsecrets/certs/admin', { CSR: csr })).body as {
          ID: string;
          Certificate: string;
          CACertificate: string;
        };
        mkdirSync(o.out, { recursive: true, mode: 0o700 });
        chmodSync(o.out, 0o700);
        writeFileDurable(join(o.out, 'key.pem'), await privateKeyPem(keys.privateKey), 0o600);
        writeFileDurable(join(o.out, 'cert.pem'), r.Certificate, 0o644);
        writeFileDurable(join(o.out, 'ca.pem'), r.CACertificate, 0o644);
        process.stdout.write(`Admin certificate ${r.ID} written to ${o.out} (ca.pem, cert.pem, key.pem)\n`);
      }),
    );
  return cert;
}

export function managerCommand(): Command {
  return new Command('manager')
    .description('Run and administer the runsecrets manager')
    .addCommand(initCommand())
    .addCommand(runCommand())
    .addCommand(joinTokenCommand())
    .addCommand(unlockCommand())
    .addCommand(unlockKeyCommand())
    .addCommand(certCommand());
}

