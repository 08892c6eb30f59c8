// `runsecrets manager backup --out FILE` asks the running manager for a consistent, encrypted backup;
// `runsecrets manager restore --from FILE --state-dir DIR` makes a new state dir from one (no manager needed).
import { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { errorMessage } from '../shared/errors.js';
import { writeFileDurable } from '../manager/cluster/files.js';
import { readBackupHeader, restoreBackup, type RestoreKey } from '../manager/cluster/backup.js';
import { adminRequestBytes } from './manager-admin.js';
import { action, addAdminConnectOptions, adminTarget, readKeyFile, readStdin, type AdminConnectOptions } from './manager-cli.js';

export function backupCommand(): Command {
  return addAdminConnectOptions(new Command('backup'))
    .description("Write an encrypted, consistent backup of the running manager's state (restore needs the unlock key or the KEK file)")
    .requiredOption('--out <file>', 'the backup file to write (0600; refused if it exists)')
    .action(
      action(async (o: { out: string } & AdminConnectOptions) => {
        if (existsSync(o.out)) throw new Error(`${o.out} already exists; refusing to overwrite it`);
        const bytes = await adminRequestBytes(adminTarget(o), 'POST', '/runsecrets/backup');
        const { header } = readBackupHeader(bytes, 'the answer'); // a manager that answered something else fails here
        writeFileDurable(o.out, bytes, 0o600);
        process.stdout.write(`Backup of cluster ${header.clusterId} at store index ${header.index} written to ${o.out} (${bytes.length} bytes)\n`);
      }),
    );
}

async function restoreKey(o: { unlockKeyFile?: string; kekFile?: string }, autolock: boolean): Promise<RestoreKey> {
  if (o.unlockKeyFile !== undefined && o.kekFile !== undefined) throw new Error('--unlock-key-file and --kek-file exclude each other');
  if (o.kekFile !== undefined) {
    try {
      return { kek: readFileSync(o.kekFile) };
    } catch (err) {
      throw new Error(`cannot read the KEK file ${o.kekFile}: ${errorMessage(err)}`);
    }
  }
  if (o.unlockKeyFile !== undefined) return { unlockKey: readKeyFile(o.unlockKeyFile) };
  if (!autolock) throw new Error('this backup is of a cluster without autolock: give the kek.key of its state dir with --kek-file');
  if (process.stdin.isTTY) process.stderr.write('Please enter unlock key: ');
  const key = (await readStdin()).trim();
  if (key === '') throw new Error('no unlock key on stdin (or give --unlock-key-file)');
  return { unlockKey: key };
}

export function restoreCommand(): Command {
  return new Command('restore')
    .description('Make a new state dir from a backup; "manager run" then serves every object, node and certificate as before')
    .requiredOption('--from <file>', 'the backup file')
    .requiredOption('--state-dir <dir>', 'the new state dir (must not exist or be empty)')
    .option('--unlock-key-file <file>', 'autolocked cluster: the unlock key (else read from stdin)')
    .option('--kek-file <file>', 'cluster without autolock: the kek.key of the backed-up state dir')
    .action(
      action(async (o: { from: string; stateDir: string; unlockKeyFile?: string; kekFile?: string }) => {
        process.umask(0o077);
        let bytes: Buffer;
        try {
          bytes = readFileSync(o.from);
        } catch (err) {
          throw new Error(`cannot read the backup ${o.from}: ${errorMessage(err)}`);
        }
        const { header } = readBackupHeader(bytes, o.from);
        const key = await restoreKey(o, header.autolock);
        const r = await restoreBackup(bytes, o.from, o.stateDir, key);
        process.stdout.write(
          `Restored cluster ${r.config.clusterId} (store index ${r.header.index}, ${r.objects} objects) into ${o.stateDir}.\n` +
            `Start it with: runsecrets manager run --state-dir ${o.stateDir}` +
            (r.header.autolock ? ' (then unlock it with its unlock key)\n' : '\n'),
        );
      }),
    );
}
