// `runsecrets manager …`: cluster init, run, join tokens, unlock, unlock keys, admin certificates. (issue 3)
// init and run work on the state dir; the other commands ask the running manager over its socket, because only
// that process holds the opened keys.
import { Command, Option } from 'commander';
import { mkdirSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, flushLogs, isLogLevel, LOG_LEVELS } from '../shared/log.js';
import { errorMessage } from '../shared/errors.js';
import { createCsrPem, generateKeyPair, privateKeyPem } from '../shared/pki.js';
import { initCluster, type JoinApproval } from '../manager/cluster/state.js';
import { acquirePidLock } from '../shared/pidlock.js';
import { migrateStateDir } from '../manager/cluster/migrate.js';
import { joinApprovalOption } from './manager-update-join-approval.js';
import { Manager } from '../manager/manager.js';
import { formatManagerAddr, parseManagerAddr } from '../shared/manager-addr.js';
import { writeFileDurable } from '../manager/cluster/files.js';
import { adminRequest, type AdminTarget } from './manager-admin.js';
import { action, addAdminConnectOptions, adminTarget, readKeyFile, readStdin, socketOption, type AdminConnectOptions } from './manager-cli.js';
import { parseDuration } from './swarm/go-parse.js';
import { UNLOCK_KEY_TEXT } from './unlock-key-text.js';
import { backupCommand, restoreCommand } from './manager-backup.js';
import { updateCommand } from './manager-update.js';
import { caCommand } from './manager-ca.js';
import { notifyReady } from '../shared/sd-notify.js';
import { CONFIG_DIR, withConfigFile } from './config-file.js';
import type { RegistryRules } from '../shared/registry-rules.js';
import { addRegistryOptions, registryRulesOf } from './registry-options.js';

const DEFAULT_LISTEN = '0.0.0.0:2377';

/** The token goes in through the environment (or --token-file): never on the agent's argv, which all can read. */
function joinCommandText(role: 'worker' | 'manager', token: string, addr: string): string {
  if (role === 'manager') {
    return `Adding a manager to this swarm is not supported yet (runsecrets runs a single manager): joins with the manager token are refused.\n\n    ${token}\n\n`;
  }
  return `To add a worker to this swarm, run the following command:\n\n    RUNSECRETS_TOKEN=${token} runsecrets agent run --manager ${addr}\n\n`;
}

interface SwarmInfo {
  Version: { Index: number };
  JoinTokens: { Worker: string; Manager: string };
}

async function swarmInfo(to: AdminTarget): Promise<SwarmInfo> {
  return (await adminRequest(to, 'GET', '/swarm')).body as SwarmInfo;
}

/** "Warning: …" on stderr when the advertised address would not reach the manager's listener. */
async function warnAdvertiseMismatch(to: AdminTarget): Promise<void> {
  const r = await adminRequest(to, 'GET', '/runsecrets/advertise').catch(() => null);
  const w = (r?.body as { Warning?: unknown } | null)?.Warning;
  if (typeof w === 'string') process.stderr.write(`Warning: ${w}\n`);
}

async function advertiseAddr(to: AdminTarget): Promise<string> {
  const info = (await adminRequest(to, 'GET', '/info')).body as { Swarm?: { RemoteManagers?: { Addr: string }[] } };
  return info.Swarm?.RemoteManagers?.[0]?.Addr ?? '<manager-address>:2377';
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
    .addOption(joinApprovalOption().default('auto'))
    .addOption(new Option('--store <kind>', 'where objects are kept: sqlite (a file in the state dir) or etcd (a local etcd member the manager runs)').choices(['sqlite', 'etcd']).default('sqlite'))
    .option('--etcd-client-addr <ip:port>', 'with --store etcd: where the etcd member serves the managers (default: advertise host, port 2379)')
    .option('--etcd-peer-addr <ip:port>', 'with --store etcd: where the etcd member talks to other members (default: advertise host, port 2380)')
    .action(
      action(async (o: { stateDir: string; autolock: boolean; advertiseAddr?: string; dispatcherHeartbeat?: string; joinApproval: JoinApproval; store: 'sqlite' | 'etcd'; etcdClientAddr?: string; etcdPeerAddr?: string }) => {
        process.umask(0o077);
        const heartbeatMs = o.dispatcherHeartbeat === undefined ? undefined : heartbeatOption(o.dispatcherHeartbeat);
        if (o.store !== 'etcd' && (o.etcdClientAddr !== undefined || o.etcdPeerAddr !== undefined)) throw new Error('--etcd-client-addr and --etcd-peer-addr need --store etcd');
        const etcd = o.store === 'etcd' ? { clientAddr: o.etcdClientAddr, peerAddr: o.etcdPeerAddr } : undefined;
        const r = await initCluster(o.stateDir, { autolock: o.autolock, advertiseAddr: o.advertiseAddr, heartbeatMs, joinApproval: o.joinApproval, etcd });
        let out =
          `Swarm initialized: current node (${r.config.nodeId}) is now a manager.\n\n` +
          joinCommandText('worker', r.workerToken, r.config.advertiseAddr) +
          "To add a manager to this swarm, run 'runsecrets manager join-token manager' and follow the instructions.\n";
        out +=
          `\nAgents will join at ${r.config.advertiseAddr} (the advertise address): "manager run --listen" must be reachable there;\n` +
          'change it later with "runsecrets manager update --advertise-addr HOST:PORT".\n';
        if (r.unlockKey) out += '\n' + UNLOCK_KEY_TEXT(r.unlockKey);
        process.stdout.write(out);
      }),
    );
}

/** A stopping manager exits within this long (connections get CLOSE_GRACE_MS of it to finish). */
const STOP_DEADLINE_MS = 4_000;

function runCommand(): Command {
  const run = new Command('run')
    .description('Serve the API on the Unix socket and on TCP with mutual TLS')
    .option('--state-dir <dir>', 'the cluster state made by "manager init" (required)')
    .addOption(socketOption())
    .option('--listen <addr:port>', 'TCP address for mutual TLS ("none" to disable)', DEFAULT_LISTEN)
    .option('--metrics-listen <addr:port>', 'serve /metrics, /healthz and /readyz over plain HTTP here, e.g. 127.0.0.1:9477 (default: off)')
    .option(
      '--peer-manager <host:port>',
      "another manager's agent address (repeatable): agents are told every manager's address and move to another when theirs fails",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS as string[]).default('info'));
  addRegistryOptions(run).action(
    action(async (o: { stateDir: string; socket: string; listen: string; metricsListen?: string; peerManager: string[]; logLevel: string; insecureRegistry: string[]; registryMirror: string[] }) => {
      process.umask(0o077);
      const log = createLogger('manager', isLogLevel(o.logLevel) ? o.logLevel : 'info');
      const registry: RegistryRules = registryRulesOf(o); // bad values: error, exit 1
      // The lock first: nothing (a migration included) touches a state dir another manager serves.
      const release = existsSync(o.stateDir) ? acquirePidLock(o.stateDir) : () => undefined;
      let manager: Manager;
      try {
        migrateStateDir(o.stateDir, log);
        const warn = (m: string): void => void process.stderr.write(`Warning: ${m}\n`);
        const peerManagers = o.peerManager.map((a) => formatManagerAddr(parseManagerAddr(a, '--peer-manager'))); // HOST:PORT, or an error naming it
        manager = new Manager({ stateDir: o.stateDir, socketPath: o.socket, listen: o.listen === 'none' ? null : o.listen, metricsListen: o.metricsListen ?? null, log, warn, registry, peerManagers });
      } catch (err) {
        release();
        throw err;
      }
      try {
        await manager.start();
      } catch (err) {
        release();
        await manager.stop().catch(() => undefined);
        // One line for one failure: the daemon's log (stderr, the journal); the error carries its context.
        log.fatal({ err: errorMessage(err) }, 'manager failed to start');
        await flushLogs();
        process.exit(1); // nothing half-started may keep the process alive
      }
      // Ready once the socket serves, locked or not: `manager unlock` needs the socket.
      void notifyReady(log, manager.locked ? 'serving; locked: waiting for "runsecrets manager unlock"' : 'serving');
      await new Promise<void>((resolve) => {
        let stopping = false;
        const onSignal = (sig: NodeJS.Signals): void => {
          if (stopping) return;
          stopping = true;
          log.info({ signal: sig }, 'stopping');
          // Whatever hangs (a peer that never closes, a stuck close), the manager exits within the bound: the
          // store commits before it answers, so nothing acknowledged is lost.
          setTimeout(() => {
            log.error({ afterMs: STOP_DEADLINE_MS }, 'stop did not finish in time: exiting');
            void flushLogs(500).finally(() => process.exit(1));
          }, STOP_DEADLINE_MS).unref();
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
  return withConfigFile(run, `${CONFIG_DIR}/manager.yaml`, ['stateDir']);
}

function joinTokenCommand(): Command {
  return addAdminConnectOptions(new Command('join-token'))
    .description('Show (or rotate) the join token for workers or managers')
    .argument('<role>', 'worker or manager')
    .option('--rotate', 'rotate the join token', false)
    .option('-q, --quiet', 'only display the token', false)
    .action(
      action(async (role: string, o: { rotate: boolean; quiet: boolean } & AdminConnectOptions) => {
        const to = adminTarget(o);
        if (role !== 'worker' && role !== 'manager') throw new Error(`unknown role ${role}: use worker or manager`);
        if (o.rotate) {
          const cur = await swarmInfo(to);
          const flag = role === 'worker' ? 'rotateWorkerToken' : 'rotateManagerToken';
          await adminRequest(to, 'POST', `/swarm/update?version=${cur.Version.Index}&${flag}=true`, {});
          if (!o.quiet) process.stdout.write(`Successfully rotated ${role} join token.\n\n`);
        }
        const info = await swarmInfo(to);
        const token = role === 'worker' ? info.JoinTokens.Worker : info.JoinTokens.Manager;
        if (o.quiet) process.stdout.write(token + '\n');
        else {
          process.stdout.write(joinCommandText(role, token, await advertiseAddr(to)));
          await warnAdvertiseMismatch(to);
        }
      }),
    );
}

function unlockCommand(): Command {
  return addAdminConnectOptions(new Command('unlock'))
    .description('Unlock a locked manager: reads the unlock key from stdin, or from --key-file')
    .option('--key-file <file>', 'read the unlock key from this file (first line), e.g. $CREDENTIALS_DIRECTORY/unlock-key at boot')
    .action(
      action(async (o: { keyFile?: string } & AdminConnectOptions) => {
        const to = adminTarget(o);
        let key: string;
        if (o.keyFile !== undefined) key = readKeyFile(o.keyFile);
        else {
          if (process.stdin.isTTY) process.stderr.write('Please enter unlock key: ');
          key = (await readStdin()).trim();
        }
        if (key === '') throw new Error('no unlock key on stdin');
        await adminRequest(to, 'POST', '/swarm/unlock', { UnlockKey: key });
      }),
    );
}

function unlockKeyCommand(): Command {
  return addAdminConnectOptions(new Command('unlock-key'))
    .description('Show (or rotate) the unlock key of an autolocked manager')
    .option('--rotate', 'rotate the unlock key', false)
    .option('-q, --quiet', 'only display the key', false)
    .action(
      action(async (o: { rotate: boolean; quiet: boolean } & AdminConnectOptions) => {
        const to = adminTarget(o);
        if (o.rotate) {
          const cur = await swarmInfo(to);
          await adminRequest(to, 'POST', `/swarm/update?version=${cur.Version.Index}&rotateManagerUnlockKey=true`, {});
          if (!o.quiet) process.stdout.write('Successfully rotated manager unlock key.\n\n');
        }
        const key = ((await adminRequest(to, 'GET', '/swarm/unlockkey')).body as { UnlockKey?: string }).UnlockKey ?? '';
        if (key === '') throw new Error('no unlock key is set');
        process.stdout.write(o.quiet ? key + '\n' : UNLOCK_KEY_TEXT(key));
      }),
    );
}

interface AdminCertRow {
  Serial: string;
  ID: string;
  IssuedAt: string;
  NotAfter: string;
  Revoked: boolean;
}

function adminCertTable(list: AdminCertRow[]): string {
  const now = Date.now();
  const rows = [['SERIAL', 'ID', 'ISSUED', 'EXPIRES', 'STATUS']];
  for (const c of list) rows.push([c.Serial, c.ID, c.IssuedAt, c.NotAfter, c.Revoked ? 'revoked' : Date.parse(c.NotAfter) < now ? 'expired' : 'valid']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]! + 3))).join('') + '\n').join('');
}

/** A Go duration from 1m to 8760h, in nanoseconds (the API's Expiry). */
function expiryOption(s: string): number {
  let ns: number;
  try {
    ns = parseDuration(s);
  } catch (err) {
    throw new Error(`invalid argument "${s}" for "--expiry" flag: ${errorMessage(err)}`);
  }
  if (ns < 60e9 || ns > 8760 * 3600e9) throw new Error(`invalid --expiry "${s}": expected a duration from 1m to 8760h`);
  return ns;
}

function certCommand(): Command {
  const cert = new Command('cert').description('Issue, list and revoke admin certificates signed by the cluster CA');
  addAdminConnectOptions(cert.command('admin'))
    .description('Issue an admin client certificate for remote use (ca.pem, cert.pem, key.pem, as docker expects)')
    .requiredOption('--out <dir>', 'folder for ca.pem, cert.pem and key.pem (created 0700)')
    .option('--expiry <duration>', 'validity of the certificate, from 1m to 8760h (revoke one early with "manager cert revoke")', '720h')
    .action(
      action(async (o: { out: string; expiry: string } & AdminConnectOptions) => {
        const to = adminTarget(o);
        const expiry = expiryOption(o.expiry);
        for (const f of ['cert.pem', 'key.pem']) {
          if (existsSync(join(o.out, f))) throw new Error(`${join(o.out, f)} already exists; refusing to overwrite it`);
        }
        // The private key is made here and never leaves this process; the manager only sees the CSR.
        const keys = await generateKeyPair();
        const csr = await createCsrPem(keys, 'runsecrets-admin');
        const r = (await adminRequest(to, 'POST', '/runsecrets/certs/admin', { CSR: csr, Expiry: expiry })).body as {
          ID: string;
          Serial: string;
          NotAfter: string;
          Certificate: string;
          CACertificate: string;
        };
        mkdirSync(o.out, { recursive: true, mode: 0o700 });
        chmodSync(o.out, 0o700);
        writeFileDurable(join(o.out, 'key.pem'), await privateKeyPem(keys.privateKey), 0o600);
        writeFileDurable(join(o.out, 'cert.pem'), r.Certificate, 0o644);
        writeFileDurable(join(o.out, 'ca.pem'), r.CACertificate, 0o644);
        process.stdout.write(`Admin certificate ${r.ID} written to ${o.out} (ca.pem, cert.pem, key.pem)\nSerial ${r.Serial}, valid until ${r.NotAfter}\n`);
      }),
    );
  addAdminConnectOptions(cert.command('ls'))
    .description('List the admin certificates this manager issued')
    .option('-q, --quiet', 'only display serials', false)
    .action(
      action(async (o: { quiet: boolean } & AdminConnectOptions) => {
        const to = adminTarget(o);
        const list = (await adminRequest(to, 'GET', '/runsecrets/certs/admin')).body as AdminCertRow[];
        process.stdout.write(o.quiet ? list.map((c) => c.Serial + '\n').join('') : adminCertTable(list));
      }),
    );
  addAdminConnectOptions(cert.command('revoke'))
    .description('Revoke an admin certificate at once (its open connections stop working too)')
    .argument('<serial>', 'the serial, as "manager cert ls" shows it')
    .action(
      action(async (serial: string, o: AdminConnectOptions) => {
        const to = adminTarget(o);
        await adminRequest(to, 'POST', `/runsecrets/certs/admin/${encodeURIComponent(serial)}/revoke`, {});
        process.stdout.write(`Admin certificate ${serial.toUpperCase()} revoked.\n`);
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
    .addCommand(certCommand())
    .addCommand(caCommand())
    .addCommand(updateCommand())
    .addCommand(backupCommand())
    .addCommand(restoreCommand());
}

