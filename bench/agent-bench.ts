// Agent benchmarks, measured side by side in one run (these machines are noisy: ratios, not absolutes):
//  1. open+read+close of a 100-byte secret through the mount vs the same file on tmpfs (/dev/shm), by a tiny C reader;
//  2. `ls -l` of a task folder with 1,000 files vs a tmpfs folder with 1,000 files (warm);
//  3. the agent's RSS with 10,000 secrets of 1 KiB, above the same agent idle.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';

const REPO = resolve(import.meta.dirname, '../..');
const READER = join(REPO, 'bench/out/reader');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const READS = Number(process.env.BENCH_READS ?? 20000);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function waitFor(what: string, fn: () => boolean, ms = 60000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function startAgent(tasksDir: string, mount: string): ChildProcess {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return spawn(process.execPath, [join(REPO, 'bin/runsecrets'), 'agent', 'run', '--standalone', '--tasks-dir', tasksDir, '--mount', mount, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
}

async function stopAgent(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await done;
}

function reader(path: string): { ops: number; p50: number } {
  const [ops, p50] = execFileSync(READER, [path, String(READS)], { encoding: 'utf8' }).trim().split(' ').map(Number);
  return { ops: ops!, p50: p50! };
}

function timeLs(dir: string): number {
  const t0 = process.hrtime.bigint();
  execFileSync('ls', ['-l', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'rs-bench-'));
  chmodSync(work, 0o755);
  const shm = mkdtempSync('/dev/shm/rs-bench-');
  const tasksDir = join(work, 'tasks');
  const mount = join(work, 'mnt');
  mkdirSync(join(tasksDir, 'data'), { recursive: true });
  const secret = Buffer.alloc(100, 0x61);
  writeFileSync(join(tasksDir, 'data/s100'), secret);
  writeFileSync(join(shm, 's100'), secret);
  mkdirSync(join(shm, 'many'));
  const many: string[] = [];
  for (let i = 0; i < 1000; i++) {
    writeFileSync(join(tasksDir, `data/m${i}`), `value-${i}`);
    writeFileSync(join(shm, `many/m${i}`), `value-${i}`);
    many.push(`  - { file: ./data/m${i}, target: m${i} }`);
  }
  writeFileSync(join(tasksDir, 'read.yaml'), 'secrets:\n  - { file: ./data/s100, target: s100 }\n');
  writeFileSync(join(tasksDir, 'many.yaml'), `secrets:\n${many.join('\n')}\n`);

  const results: Record<string, unknown> = {};
  let agent = startAgent(tasksDir, mount);
  try {
    await waitFor('mount', () => existsSync(join(mount, 'many/m999')) && existsSync(join(mount, 'read/s100')));
    // 1. read path
    const fuse: Array<{ ops: number; p50: number }> = [];
    const tmpfs: Array<{ ops: number; p50: number }> = [];
    reader(join(mount, 'read/s100'));
    reader(join(shm, 's100'));
    for (let r = 0; r < ROUNDS; r++) {
      fuse.push(reader(join(mount, 'read/s100')));
      tmpfs.push(reader(join(shm, 's100')));
    }
    const fOps = median(fuse.map((x) => x.ops));
    const tOps = median(tmpfs.map((x) => x.ops));
    results.read = {
      fuseOpsPerSec: fOps, tmpfsOpsPerSec: tOps, ratio: fOps / tOps,
      fuseP50us: median(fuse.map((x) => x.p50)), tmpfsP50us: median(tmpfs.map((x) => x.p50)),
      perRoundRatios: fuse.map((f, i) => +(f.ops / tmpfs[i]!.ops).toFixed(3)),
    };
    // 2. ls -l of 1,000 files, warm
    timeLs(join(mount, 'many'));
    timeLs(join(shm, 'many'));
    const lsF: number[] = [];
    const lsT: number[] = [];
    for (let r = 0; r < ROUNDS * 3; r++) {
      lsF.push(timeLs(join(mount, 'many')));
      lsT.push(timeLs(join(shm, 'many')));
    }
    results.ls = { fuseMs: median(lsF), tmpfsMs: median(lsT), ratio: median(lsF) / median(lsT) };
    await stopAgent(agent);

    // 3. RSS: idle agent, then the same agent with 10,000 secrets of 1 KiB.
    rmSync(tasksDir, { recursive: true });
    mkdirSync(join(tasksDir, 'data'), { recursive: true });
    agent = startAgent(tasksDir, mount);
    await waitFor('idle mount', () => {
      try {
        return readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${mount} `);
      } catch {
        return false;
      }
    });
    await new Promise((r) => setTimeout(r, 1500)); // let start-up garbage settle before the idle reading
    const idle = rssKiB(agent.pid!);
    // 100 tasks of 100 secrets each (YAML manifests), all distinct bytes.
    const kib = Buffer.alloc(1024);
    for (let i = 0; i < 10000; i++) {
      kib.write(`secret-${i}-`, 0);
      writeFileSync(join(tasksDir, `data/k${i}`), kib);
    }
    const t0 = Date.now();
    for (let t = 0; t < 100; t++) {
      const lines: string[] = [];
      for (let j = 0; j < 100; j++) lines.push(`  - { file: ./data/k${t * 100 + j}, target: k${j} }`);
      writeFileSync(join(tasksDir, `t${t}.yaml`), `uid: ${1000 + t}\nsecrets:\n${lines.join('\n')}\n`);
    }
    await waitFor('10,000 secrets', () => existsSync(join(mount, 't99/k99')), 120000);
    const loadMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 1500));
    const loaded = rssKiB(agent.pid!);
    results.rss = { idleMiB: idle / 1024, with10kMiB: loaded / 1024, aboveIdleMiB: (loaded - idle) / 1024, loadMs };
  } finally {
    await stopAgent(agent);
    rmSync(work, { recursive: true, force: true });
    rmSync(shm, { recursive: true, force: true });
  }

  const r = results as {
    read: { fuseOpsPerSec: number; tmpfsOpsPerSec: number; ratio: number; fuseP50us: number; tmpfsP50us: number; perRoundRatios: number[] };
    ls: { fuseMs: number; tmpfsMs: number; ratio: number };
    rss: { idleMiB: number; with10kMiB: number; aboveIdleMiB: number; loadMs: number };
  };
  const f = (n: number, d = 0) => n.toFixed(d);
  console.log('\n## Agent benchmark (medians of side-by-side rounds)\n');
  console.log('| measure | runsecrets mount | tmpfs (/dev/shm) | ratio | target |');
  console.log('|---|---|---|---|---|');
  console.log(`| open+read+close, 100 B, ops/s (p50 µs) | ${f(r.read.fuseOpsPerSec)} (${f(r.read.fuseP50us, 1)}) | ${f(r.read.tmpfsOpsPerSec)} (${f(r.read.tmpfsP50us, 1)}) | 1/${f(1 / r.read.ratio, 1)} of tmpfs | ≥ 1/15 of tmpfs |`);
  console.log(`| \`ls -l\` of 1,000 files, warm, ms | ${f(r.ls.fuseMs, 2)} | ${f(r.ls.tmpfsMs, 2)} | ${f(r.ls.ratio, 2)}x | ≤ 1.2x |`);
  console.log(`| agent RSS, 10,000 secrets of 1 KiB, MiB | ${f(r.rss.with10kMiB, 1)} (idle ${f(r.rss.idleMiB, 1)}) | | +${f(r.rss.aboveIdleMiB, 1)} MiB above idle | ≤ +40 MiB |`);
  console.log(`\nper-round read ratios: ${r.read.perRoundRatios.join(', ')}; 10,000 secrets applied in ${r.rss.loadMs} ms`);
  mkdirSync(join(REPO, 'bench/out'), { recursive: true });
  writeFileSync(join(REPO, 'bench/out/agent-results.json'), JSON.stringify(results, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
