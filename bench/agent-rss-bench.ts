// Idle agent memory (issue 13 item 6), side by side in one run with a bare Node process, because most of an idle
// agent's VmRSS is Node itself: the pages of /usr/bin/node it touched (RssFile, shared with every other Node process
// on the host) and V8's own start-up heap. RssAnon is what each agent privately costs.
//   1. a bare `node` process doing nothing;
//   2. a standalone agent with an empty tasks folder;
//   3. a managed agent joined to a real manager, idle, with the process runtime and with the default (OCI) runtime,
//      measured in its second life (restarted after the join), as a long-running agent is: the first life also
//      holds the key and CSR code it loaded to join, about 15 MiB (shared/cert-identity.ts says why).
// Each reading is the median of 5, 1 s apart, after 6 s of quiet (start-up garbage).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupAll, sleepMs, start, startCluster, stop, waitFor, isMounted } from './lib/cluster.js';

interface Rss {
  vm: number;
  anon: number;
  file: number;
}

function rssOf(pid: number): Rss {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN);
  return { vm: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile') };
}

async function settledRss(pid: number): Promise<Rss> {
  await sleepMs(6000);
  const xs: Rss[] = [];
  for (let i = 0; i < 5; i++) {
    xs.push(rssOf(pid));
    await sleepMs(1000);
  }
  const med = (f: (r: Rss) => number): number => xs.map(f).sort((a, b) => a - b)[2]!;
  return { vm: med((r) => r.vm), anon: med((r) => r.anon), file: med((r) => r.file) };
}

async function bareNode(): Promise<Rss> {
  const p = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  try {
    return await settledRss(p.pid!);
  } finally {
    p.kill('SIGKILL');
  }
}

async function standaloneAgent(): Promise<Rss> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-rss-'));
  const mount = join(dir, 'mnt');
  mkdirSync(join(dir, 'tasks'), { recursive: true });
  mkdirSync(mount);
  const p = start('standalone', ['agent', 'run', '--standalone', '--tasks-dir', join(dir, 'tasks'), '--mount', mount, '--log-level', 'warn']);
  try {
    await waitFor('the standalone mount', () => isMounted(mount), 30_000, 50);
    return await settledRss(p.proc.pid!);
  } finally {
    await stop(p);
  }
}

async function managedAgent(runtime: 'process' | 'default'): Promise<Rss> {
  const c = await startCluster(1, { agentArgs: () => (runtime === 'process' ? ['--runtime', 'process'] : []) });
  try {
    const first = c.agents[0]!.p;
    await stop(first);
    const again = start(first.name, first.args);
    await waitFor('the restarted agent\'s mount', () => isMounted(c.agents[0]!.mount), 60_000, 100);
    return await settledRss(again.proc.pid!);
  } finally {
    await cleanupAll();
  }
}

const mib = (kib: number): string => (kib / 1024).toFixed(1);
const row = (what: string, r: Rss, bare: Rss): string =>
  `| ${what} | ${mib(r.vm)} | ${mib(r.anon)} | ${mib(r.file)} | +${mib(r.vm - bare.vm)} |`;

async function main(): Promise<void> {
  const bare = await bareNode();
  const standalone = await standaloneAgent();
  const managedProcess = await managedAgent('process');
  const managedDefault = await managedAgent('default');
  console.log('\n| idle process | VmRSS MiB | RssAnon MiB (private) | RssFile MiB (shared pages of node) | VmRSS above bare Node |');
  console.log('|---|---|---|---|---|');
  console.log(row('bare `node` (floor)', bare, bare));
  console.log(row('standalone agent', standalone, bare));
  console.log(row('managed agent, process runtime', managedProcess, bare));
  console.log(row('managed agent, default runtime', managedDefault, bare));
}

main().catch(async (err: unknown) => {
  console.error(err);
  await cleanupAll();
  process.exit(1);
});
