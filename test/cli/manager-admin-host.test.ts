// The manager's admin commands (join-token, unlock-key, cert admin|ls|revoke, update, backup) reach a manager over
// -H tcp://… with the TLS flags, or through RUNSECRETS_HOST and RUNSECRETS_CERT_PATH, like the docker-like
// commands, not only over the local socket. Real manager, real mutual TLS.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { isRoot, request, runCli, startManager, type CliResult } from '../helpers/manager.js';

if (!isRoot()) {
  t.plan(0, 'skipped: the manager runs as root (its socket and state are root-only); run the tests as root');
  process.exit(0);
}

const m = await startManager({ t });
const tmp = mkdtempSync(join(tmpdir(), 'rs-admin-host-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
const host = `tcp://127.0.0.1:${m.tcpPort}`;
const tls = ['--tlscert', join(m.adminCertDir, 'cert.pem'), '--tlskey', join(m.adminCertDir, 'key.pem'), '--tlscacert', join(m.adminCertDir, 'ca.pem')];
/** Runs with -H and the TLS flags, and no RUNSECRETS_HOST: the local socket is not where it connects. */
const overH = (args: string[]): Promise<CliResult> => runCli([...args, '-H', host, ...tls], { env: { RUNSECRETS_HOST: '' } });
/** Runs with the environment only. */
const overEnv = (args: string[]): Promise<CliResult> => runCli(args, { env: { RUNSECRETS_HOST: host, RUNSECRETS_CERT_PATH: m.adminCertDir } });
const swarm = async (): Promise<{ Spec: { Orchestration: { TaskHistoryRetentionLimit: number } }; JoinTokens: { Worker: string } }> =>
  (await request(m.socket, 'GET', '/swarm')).json as never;

t.test('join-token over -H and over RUNSECRETS_HOST, rotation included', async (t) => {
  for (const run of [overH, overEnv]) {
    const r = await run(['manager', 'join-token', '-q', 'worker']);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.trim(), (await swarm()).JoinTokens.Worker);
  }
  const before = (await swarm()).JoinTokens.Worker;
  const rot = await overH(['manager', 'join-token', '--rotate', '-q', 'worker']);
  t.equal(rot.code, 0, rot.stderr);
  t.not((await swarm()).JoinTokens.Worker, before, 'rotated on the manager reached over TCP');
  t.equal(rot.stdout.trim(), (await swarm()).JoinTokens.Worker);
});

t.test('unlock-key answers over -H as over the socket', async (t) => {
  const local = await runCli(['manager', 'unlock-key', '-q', '--socket', m.socket], { env: { RUNSECRETS_HOST: '' } });
  const remote = await overH(['manager', 'unlock-key', '-q']);
  t.same([remote.code, remote.stdout, remote.stderr], [local.code, local.stdout, local.stderr]);
  t.match(remote.stderr, /no unlock key is set/, 'this manager is not autolocked');
});

t.test('cert admin, ls and revoke over -H and RUNSECRETS_HOST', async (t) => {
  const out = join(tmp, 'cert2');
  const issued = await overH(['manager', 'cert', 'admin', '--out', out, '--expiry', '1h']);
  t.equal(issued.code, 0, issued.stderr);
  t.ok(existsSync(join(out, 'key.pem')));
  const serial = new X509Certificate(readFileSync(join(out, 'cert.pem'))).serialNumber;
  const ls = await overEnv(['manager', 'cert', 'ls', '-q']);
  t.equal(ls.code, 0, ls.stderr);
  t.ok(ls.stdout.split('\n').includes(serial), 'the new certificate is listed');
  const rv = await overEnv(['manager', 'cert', 'revoke', serial]);
  t.equal(rv.code, 0, rv.stderr);
  t.equal(rv.stdout, `Admin certificate ${serial} revoked.\n`);
  // The revoked certificate opens nothing any more, over -H either.
  const refused = await runCli(['manager', 'cert', 'ls', '-H', host, '--tlscert', join(out, 'cert.pem'), '--tlskey', join(out, 'key.pem'), '--tlscacert', join(out, 'ca.pem')], {
    env: { RUNSECRETS_HOST: '' },
  });
  t.not(refused.code, 0, 'a revoked certificate is refused');
});

t.test('update and backup over -H', async (t) => {
  const up = await overH(['manager', 'update', '--task-history-limit', '7']);
  t.equal(up.code, 0, up.stderr);
  t.equal((await swarm()).Spec.Orchestration.TaskHistoryRetentionLimit, 7);
  // Backups stay a local-socket operation by the manager's own rule; -H reaches it as unix://… too.
  const file = join(tmp, 'backup.bin');
  const tcp = await overH(['manager', 'backup', '--out', file]);
  t.equal(tcp.code, 1);
  t.equal(tcp.stderr, "Error response from daemon: permission denied: backups are taken over the manager's Unix socket only\n");
  t.notOk(existsSync(file));
  const b = await runCli(['manager', 'backup', '--out', file, '-H', `unix://${m.socket}`], { env: { RUNSECRETS_HOST: '' } });
  t.equal(b.code, 0, b.stderr);
  t.ok(existsSync(file));
});

t.test('connection errors and conflicting flags', async (t) => {
  const both = await runCli(['manager', 'join-token', 'worker', '--socket', m.socket, '-H', host]);
  t.equal(both.code, 1);
  t.equal(both.stderr, 'Error: conflicting options: either specify --host or --socket, not both\n');
  const nowhere = await runCli(['manager', 'join-token', 'worker', '-H', 'tcp://127.0.0.1:1'], { env: { RUNSECRETS_HOST: '' } });
  t.equal(nowhere.code, 1);
  t.match(nowhere.stderr, /^Error: Cannot connect to the runsecrets manager at tcp:\/\/127\.0\.0\.1:1\. Is the manager running\?/);
  const badHost = await runCli(['manager', 'cert', 'ls', '-H', 'ftp://x'], { env: { RUNSECRETS_HOST: '' } });
  t.match(badHost.stderr, /invalid host "ftp:\/\/x"/);
});
