// A throwaway single-member etcd for tests: Debian's /usr/bin/etcd on free 127.0.0.1 ports, data in the given dir,
// killed by stop(). Plain HTTP, or client TLS with a client certificate required when given PEM files.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
export { freePort } from './free-port.js';
import { freePort } from './free-port.js';

export const ETCD_BIN = '/usr/bin/etcd';

/** Why etcd tests cannot run here, or false. */
export function etcdSkipReason(): string | false {
  return existsSync(ETCD_BIN) ? false : `needs ${ETCD_BIN} (Debian package etcd-server; run make setup)`;
}

export interface EtcdMember {
  endpoints: string[];
  dataDir: string;
  stop(): Promise<void>;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return r.ok && ((await r.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

/** PEM files for client TLS: etcd's certificate and key, and the CA whose clients it accepts (client-cert-auth). */
export interface EtcdTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** Starts a member with its data under dataDir/etcd; extraArgs e.g. ['--snapshot-count', '10']. With tls, clients
 * must come over TLS with a certificate from caFile. Health is read on a separate plain-HTTP metrics port. */
export async function startEtcd(dataDir: string, extraArgs: string[] = [], tls?: EtcdTlsFiles): Promise<EtcdMember> {
  const [client, peer, metrics] = [await freePort(), await freePort(), await freePort()];
  const c = `${tls ? 'https' : 'http'}://127.0.0.1:${client}`;
  const p = `http://127.0.0.1:${peer}`;
  const health = `http://127.0.0.1:${metrics}`;
  const dir = join(dataDir, 'etcd');
  const args = ['--name', 'test', '--data-dir', dir, '--listen-client-urls', c, '--advertise-client-urls', c, '--listen-metrics-urls', health];
  if (tls) args.push('--cert-file', tls.certFile, '--key-file', tls.keyFile, '--trusted-ca-file', tls.caFile, '--client-cert-auth');
  args.push('--listen-peer-urls', p, '--initial-advertise-peer-urls', p, '--initial-cluster', `test=${p}`, '--log-level', 'error', '--logger', 'zap', ...extraArgs);
  const child = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let alive = true;
  void exited.then(() => (alive = false));
  const stop = async (): Promise<void> => {
    if (alive) child.kill('SIGKILL');
    await exited;
  };
  for (let i = 0; i < 200; i++) {
    if (!alive) throw new Error(`etcd exited on start: ${stderr}`);
    if (await healthy(health)) return { endpoints: [c], dataDir: dir, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`etcd did not become healthy in 20 s: ${stderr}`);
}
