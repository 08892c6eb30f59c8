// Test helper: a real etcd cluster of N members on random 127.0.0.1 ports, mutual TLS with member certificates
// from a fresh cluster CA (as manager/etcd/member.ts runs them), each process ours to kill -9 and start again.
// Not supervised (EtcdMember restarts a dead member; the tests here decide when it comes back).
//
//   const c = await startEtcdCluster({ t, size: 3 });
//   c.members[0].clientUrl; c.members[0].tls; c.kill9(0); await c.restart(0);
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterCA } from '../../manager/pki/ca.js';
import { issueEtcdMemberCert } from '../../manager/pki/etcd-certs.js';
import { etcdArgs, etcdMemberPaths, memberHealthy, writeMemberTls, type EtcdMemberOptions, type EtcdTlsFiles } from '../../manager/etcd/member.js';
import { createLogger } from '../../shared/log.js';
export { freePort } from './free-port.js';
import { freePort } from './free-port.js';

/** Short raft timers, so that a killed raft leader is replaced soon (the defaults are 100 ms / 1000 ms). */
export const FAST_RAFT = ['--heartbeat-interval', '50', '--election-timeout', '500'];

export interface EtcdTestMember {
  name: string;
  stateDir: string;
  clientUrl: string;
  peerUrl: string;
  tls: EtcdTlsFiles;
  options: EtcdMemberOptions;
  proc: ChildProcess | null;
}

export interface EtcdTestCluster {
  dir: string;
  ca: ClusterCA;
  caPem: string;
  members: EtcdTestMember[];
  endpoints: string[];
  kill9(i: number): Promise<void>;
  restart(i: number): Promise<void>;
  waitHealthy(i: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function spawnMember(m: EtcdTestMember): ChildProcess {
  const p = spawn('etcd', etcdArgs(m.options), { stdio: ['ignore', 'ignore', 'ignore'] });
  m.proc = p;
  p.once('exit', () => {
    if (m.proc === p) m.proc = null;
  });
  return p;
}

async function killAndWait(p: ChildProcess | null, signal: NodeJS.Signals): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill(signal);
  await gone;
}

export async function startEtcdCluster(o: { size: number; t?: { teardown(fn: () => unknown): void } }): Promise<EtcdTestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-etcd-'));
  const { ca } = await ClusterCA.create('etcdtestcluster');
  const log = createLogger('etcd-test', 'silent');
  const members: EtcdTestMember[] = [];
  for (let i = 0; i < o.size; i++) {
    const name = `m${i}`;
    const stateDir = join(dir, name);
    const tls = writeMemberTls(stateDir, ca.certPem, await issueEtcdMemberCert(ca, name, ['127.0.0.1']));
    members.push({
      name,
      stateDir,
      clientUrl: `https://127.0.0.1:${await freePort()}`,
      peerUrl: `https://127.0.0.1:${await freePort()}`,
      tls,
      proc: null,
      options: null as unknown as EtcdMemberOptions, // set below, once every peer URL is known
    });
  }
  for (const m of members) {
    m.options = {
      name: m.name,
      dataDir: etcdMemberPaths(m.stateDir).dataDir,
      tls: m.tls,
      clientUrl: m.clientUrl,
      peerUrl: m.peerUrl,
      initialCluster: members.map((x) => ({ name: x.name, peerUrl: x.peerUrl })),
      clusterState: 'new',
      clusterToken: 'etcdtestcluster',
      log,
      extraArgs: FAST_RAFT,
    };
  }
  const c: EtcdTestCluster = {
    dir,
    ca,
    caPem: ca.certPem,
    members,
    endpoints: members.map((m) => m.clientUrl),
    kill9: (i) => killAndWait(members[i]!.proc, 'SIGKILL'),
    restart: async (i) => {
      const m = members[i]!;
      await killAndWait(m.proc, 'SIGKILL');
      spawnMember(m);
    },
    waitHealthy: async (i, timeoutMs = 60_000) => {
      const m = members[i]!;
      const deadline = Date.now() + timeoutMs;
      while (!(await memberHealthy(m.clientUrl, m.tls))) {
        if (Date.now() > deadline) throw new Error(`etcd member ${m.name} not healthy after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: async () => {
      await Promise.all(members.map((m) => killAndWait(m.proc, 'SIGKILL')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  o.t?.teardown(() => c.stop());
  for (const m of members) spawnMember(m);
  for (let i = 0; i < members.length; i++) await c.waitHealthy(i);
  return c;
}
