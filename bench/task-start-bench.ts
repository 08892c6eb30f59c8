// Task start cost: time from Executor.start() to the task running (its own exec seen), for tasks with a secrets
// folder bound at /run/secrets and one absolute target (an overlay), started one after the other. Run as root:
//   node dist/bench/task-start-bench.js [STARTS]   (default 40; prints median, p90 and mean in ms)
// The secrets folder is a plain folder here (no FUSE): this measures the launcher, not the mount.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Executor } from '../agent/executor/index.js';
import { createLogger } from '../shared/log.js';

const STARTS = Number(process.argv[2] ?? 40);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-bench-start-'));
  const secrets = join(dir, 'task');
  const target = join(dir, 'etc');
  mkdirSync(secrets, { mode: 0o755 });
  mkdirSync(target);
  writeFileSync(join(secrets, 'pw'), 'bench');
  const ex = new Executor({ logger: createLogger('bench', 'silent') });
  const times: number[] = [];
  try {
    for (let i = 0; i < STARTS; i++) {
      const t0 = process.hrtime.bigint();
      const s = await ex.start({
        id: `b${i}`, command: ['sleep', '1000'], user: '1000:1000', secretsDir: secrets,
        absoluteMounts: [{ source: 'pw', target: join(target, 'pw') }], stopGracePeriodMs: 2000,
      });
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (s.state !== 'running') throw new Error(`task b${i} did not run: ${s.state} ${s.err ?? ''}`);
      await ex.stop(`b${i}`);
    }
  } finally {
    await ex.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(`figure task-start.ms: starts=${STARTS} median=${pct(times, 0.5).toFixed(1)} p90=${pct(times, 0.9).toFixed(1)} mean=${mean.toFixed(1)}`);
}

void main();
