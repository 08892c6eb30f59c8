// Test helper: a named network namespace joined to the host by a veth pair, for agents on a real link that a test
// can cut (link down) and heal (link up).
//
//   const reason = netnsSkipReason();           // false, or why namespaces cannot be made here (skip with it)
//   const ns = createNetns({ t });              // unique names and /30; torn down after the test
//   spawn(...ns.wrap('env', [...]))             // runs in the namespace: nsenter --net only, so FUSE mounts made
//                                               // inside stay visible to the host (ip netns exec would not)
//   ns.hostAddr                                 // the host side: what a process inside dials to reach the host
//   ns.linkDown(); ns.linkUp(); ns.cleanup();
//
// Needs root and iproute2 (`ip`) and util-linux (`nsenter`).
import { execFileSync, spawnSync } from 'node:child_process';

export interface NetnsHandle {
  name: string;
  /** The veth end on the host, and the one inside the namespace. */
  hostIf: string;
  nsIf: string;
  hostAddr: string;
  nsAddr: string;
  /** [cmd, args] that run `cmd args` inside the namespace (network only). */
  wrap(cmd: string, args: string[]): [string, string[]];
  /** Sets the host end down: packets both ways are dropped, no error reaches either side's sockets. */
  linkDown(): void;
  linkUp(): void;
  isUp(): boolean;
  /** Deletes the namespace (which deletes the veth pair). Safe to call twice. */
  cleanup(): void;
}

let counter = 0;

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const quad = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** A /30 in 10.200.0.0/13 from the pid and a counter, skipping any whose addresses the host already has. */
function freeSubnet(): [string, string] {
  const used = new Set([...ip(['-4', '-o', 'addr', 'show']).matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]));
  for (let i = 0; i < 1024; i++) {
    const idx = (process.pid * 16 + counter * 7 + i) % (1 << 17); // 2^17 /30s in a /13
    const base = ((10 << 24) >>> 0) + (200 << 16) + idx * 4;
    if ([0, 1, 2, 3].some((k) => used.has(quad(base + k)))) continue;
    return [quad(base + 1), quad(base + 2)];
  }
  throw new Error('no free /30 in 10.200.0.0/13');
}

/** Why network namespaces cannot be used here, or false. Tries to make (and delete) one. */
export function netnsSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (ip netns, veth pairs)';
  for (const cmd of ['ip', 'nsenter']) if (!has(cmd)) return `needs ${cmd} (Debian packages iproute2 / util-linux)`;
  const name = `rsprobe-${process.pid}`;
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' }); // a leftover of an earlier process with our pid
  try {
    ip(['netns', 'add', name]);
  } catch (err) {
    return `cannot create a network namespace: ${(err as { stderr?: string }).stderr?.trim() ?? String(err)}`;
  }
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  return false;
}

export function createNetns(opts: { t?: { teardown(fn: () => unknown): void } } = {}): NetnsHandle {
  counter++;
  const tag = `${process.pid.toString(36)}${counter.toString(36)}`; // interface names: at most 15 characters
  const name = `rs-${tag}`;
  const hostIf = `rsh${tag}`.slice(0, 15);
  const nsIf = `rsn${tag}`.slice(0, 15);
  const [hostAddr, nsAddr] = freeSubnet();
  let gone = false;
  const handle: NetnsHandle = {
    name,
    hostIf,
    nsIf,
    hostAddr,
    nsAddr,
    wrap: (cmd, args) => ['nsenter', [`--net=/run/netns/${name}`, '--', cmd, ...args]],
    linkDown: () => void ip(['link', 'set', hostIf, 'down']),
    linkUp: () => void ip(['link', 'set', hostIf, 'up']),
    isUp: () => /state UP/.test(ip(['link', 'show', hostIf])),
    cleanup() {
      if (gone) return;
      gone = true;
      spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      spawnSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' }); // normally gone with the namespace
    },
  };
  opts.t?.teardown(() => handle.cleanup());
  // A namespace or interface by these names can only be a leftover of an earlier process with our pid (a test that
  // was killed before its teardown): remove it rather than fail on it.
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  spawnSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
  try {
    ip(['netns', 'add', name]);
    ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    ip(['link', 'set', nsIf, 'netns', name]);
    ip(['addr', 'add', `${hostAddr}/30`, 'dev', hostIf]);
    ip(['link', 'set', hostIf, 'up']);
    ip(['-n', name, 'addr', 'add', `${nsAddr}/30`, 'dev', nsIf]);
    ip(['-n', name, 'link', 'set', nsIf, 'up']);
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    handle.cleanup();
    throw new Error(`creating network namespace ${name}: ${(err as { stderr?: string }).stderr?.trim() ?? String(err)}`);
  }
  return handle;
}
