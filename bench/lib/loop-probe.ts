// A measuring probe for the cluster benchmarks, preloaded into a manager or agent (`node --import loop-probe.js`)
// when BENCH_PROBE is set: every BENCH_PROBE_MS (default 2 s) one JSON line on stderr with the event loop's delay
// (p99 and max over the window, perf_hooks.monitorEventLoopDelay) and how long a trivial pool call (fs.stat of "/",
// served by libuv's thread pool) waited: a saturated pool shows there, a blocked loop in the first figures.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { stat } from 'node:fs';

const every = Number(process.env.BENCH_PROBE_MS ?? 2000);
const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
let poolMaxMs = 0;
let poolPending = 0;

function poolPing(): void {
  const t0 = process.hrtime.bigint();
  poolPending++;
  stat('/', () => {
    poolPending--;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > poolMaxMs) poolMaxMs = ms;
  });
}

const ping = setInterval(poolPing, 250);
ping.unref();
const t = setInterval(() => {
  const line = {
    probe: process.argv.slice(2, 4).join(' '),
    pid: process.pid,
    loopP99Ms: +(h.percentile(99) / 1e6).toFixed(1),
    loopMaxMs: +(h.max / 1e6).toFixed(1),
    poolMaxMs: +poolMaxMs.toFixed(1),
    poolPending,
  };
  process.stderr.write(`${JSON.stringify(line)}\n`);
  h.reset();
  poolMaxMs = 0;
}, every);
t.unref();
