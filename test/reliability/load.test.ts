// Load: 50 concurrent reader processes (C, test/fixtures/load-reader.c) read one secret's path on an agent's mount
// while the driver grants and revokes it 1,000 times through the manager's API (service update: add the secret,
// wait until it is readable, remove it, wait until it is gone; a new secret with other bytes and length each
// cycle). Checks: no read of wrong or partial content; no successful read whose open started after the revoke was
// reported done; agent RSS at start and end.
//
// "Reported done" for cycle i: the moment the driver's own open() of the path returned ENOENT after the update
// (CLOCK_MONOTONIC, as the readers' times: process.hrtime.bigint() reads that clock). A reader open that started
// after that moment and read cycle i's bytes is a violation.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fuseSkipReason } from '../helpers/env.js';
import { startManager } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { createSecret, createService, runningTask, serviceSpec, updateService } from '../helpers/cluster-ops.js';

const CYCLES = Number(process.env.RS_LOAD_CYCLES ?? 1000);
const READERS = 50;
/** RSS may grow by at most this much over the run (after the same settle and forced GC). */
const RSS_BOUND_MIB = 16;

function content(cycle: number): Buffer {
  const len = 100 + ((cycle * 7919) % 60000);
  const hdr = Buffer.from(`RSLOAD ${cycle} ${len}\n`);
  const body = Buffer.alloc(len);
  for (let k = 0; k < len; k++) body[k] = (cycle * 31 + k * 7) & 0xff;
  return Buffer.concat([hdr, body]);
}

function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** Polls every millisecond (no busy loop: the agent and the manager share the CPU with us). */
async function until<T>(what: string, probe: () => T | null, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

const skip = fuseSkipReason() || (spawnSync('gcc', ['--version']).status === 0 ? false : 'needs gcc (the readers are a small C program)');
if (skip) {
  t.comment(`SKIP load: ${skip}`);
  t.test('the whole file', { skip }, () => undefined);
} else {
  t.test(`${READERS} readers during ${CYCLES} grant/revoke cycles`, async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'rs-load-'));
    const reader = join(work, 'load-reader');
    const cc = spawnSync('gcc', ['-O2', '-o', reader, join(import.meta.dirname, '../fixtures/load-reader.c')], { encoding: 'utf8' });
    t.equal(cc.status, 0, `reader compiled ${cc.stderr}`);
    const m = await startManager({ t, logLevel: 'info' });
    const a = managedAgent({ managerPort: m.tcpPort, hostname: 'load-a' });
    const stop = join(work, 'stop');
    const procs: ReturnType<typeof spawn>[] = [];
    t.teardown(async () => {
      writeFileSync(stop, '');
      for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
      await a.cleanup();
      rmSync(a.dir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    });
    await a.start(m.workerToken);
    const pid = a.proc!.pid!;
    await createService(m, serviceSpec('load', 'load-a', []));
    const task = await runningTask(m, 'load');
    const path = join(a.mount, task.ID, 'pw');

    const opensAt = (): 'gone' | Buffer => {
      try {
        return readFileSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
        throw err;
      }
    };
    const revokeDone: bigint[] = [];
    let grantMs = 0;
    let revokeMs = 0;
    const cycle = async (i: number): Promise<void> => {
      const want = content(i);
      const id = await createSecret(m, `load_${i}`, want);
      const t0 = process.hrtime.bigint();
      await updateService(m, 'load', serviceSpec('load', 'load-a', [{ id, name: `load_${i}`, target: 'pw' }]));
      const granted = await until(`cycle ${i} granted`, () => {
        const r = opensAt();
        return r !== 'gone' && r.equals(want) ? process.hrtime.bigint() : null;
      });
      await updateService(m, 'load', serviceSpec('load', 'load-a', []));
      revokeDone[i] = await until(`cycle ${i} revoked`, () => {
        let fd: number;
        try {
          fd = openSync(path, 'r');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return process.hrtime.bigint(); // after open returned
          throw err;
        }
        closeSync(fd);
        return null;
      });
      grantMs += Number(granted - t0) / 1e6;
      revokeMs += Number(revokeDone[i]! - granted) / 1e6;
    };

    // Warm-up cycles (JIT, pools), then the RSS start figure after the agent's forced GC.
    const WARM = 10;
    const w0 = process.hrtime.bigint();
    for (let i = 0; i < WARM; i++) await cycle(i);
    t.comment(`warm-up without readers: ${(Number(process.hrtime.bigint() - w0) / 1e6 / WARM).toFixed(0)} ms a cycle`);
    /** The same settle before each RSS figure: a forced GC in the agent (SIGUSR2), waited for. */
    const settle = async (): Promise<void> => {
      const from = a.logs().length;
      process.kill(pid, 'SIGUSR2');
      await a.waitLog((l) => l.msg === 'forced GC (SIGUSR2)', from, 20_000);
    };
    await settle();
    const rssStart = rssKiB(pid);

    const outs: string[] = [];
    const exits: Promise<void>[] = [];
    for (let r = 0; r < READERS; r++) {
      const p = spawn(reader, [path, stop, String(CYCLES + WARM)], { stdio: ['ignore', 'pipe', 'inherit'] });
      procs.push(p);
      let out = '';
      p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      exits.push(new Promise((res) => p.once('close', () => {
        outs[r] = out;
        res();
      })));
    }
    const t0 = process.hrtime.bigint();
    grantMs = revokeMs = 0;
    for (let i = WARM; i < WARM + CYCLES; i++) await cycle(i);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    writeFileSync(stop, '');
    await Promise.all(exits);
    await settle();
    const rssEnd = rssKiB(pid);

    let reads = 0, misses = 0, wrong = 0, errors = 0, late = 0, eio = 0;
    const wrongs: string[] = [];
    const errs: string[] = [];
    const lates: string[] = [];
    for (const out of outs) {
      const lines = out.trim().split('\n');
      const h = /^reads (\d+) misses (\d+) wrong (\d+) errors (\d+) eio (\d+)$/.exec(lines[0] ?? '');
      if (!h) throw new Error(`reader output: ${out.slice(0, 200)}`);
      reads += Number(h[1]);
      misses += Number(h[2]);
      wrong += Number(h[3]);
      errors += Number(h[4]);
      eio += Number(h[5]);
      for (const l of lines.slice(1)) {
        if (l.startsWith('wrong: ')) {
          wrongs.push(l);
          continue;
        }
        if (l.startsWith('error: ')) {
          errs.push(l);
          continue;
        }
        const [c, ts] = l.split(' ');
        const done = revokeDone[Number(c)];
        if (done !== undefined && BigInt(ts!) > done) {
          late++;
          lates.push(`cycle ${c}: open started ${(Number(BigInt(ts!) - done) / 1e3).toFixed(0)} µs after the revoke was done`);
        }
      }
    }
    t.equal(wrong, 0, `no read of wrong or partial content ${wrongs.slice(0, 5).join('; ')}`);
    t.equal(errors, 0, `no open or read error other than ENOENT on open or EIO on a file revoked while open ${errs.slice(0, 5).join('; ')}`);
    t.equal(late, 0, `no successful read opened after its revoke was reported done ${lates.slice(0, 5).join('; ')}`);
    t.ok(reads > CYCLES, `readers did read (${reads} successful reads, ${misses} ENOENT)`);
    const growMiB = (rssEnd - rssStart) / 1024;
    t.ok(growMiB <= RSS_BOUND_MIB, `agent RSS flat: ${(rssStart / 1024).toFixed(1)} MiB -> ${(rssEnd / 1024).toFixed(1)} MiB (bound +${RSS_BOUND_MIB} MiB)`);
    t.equal(a.proc?.exitCode, null, 'agent still up');

    t.comment(`figure load.cycles: ${CYCLES} grant/revoke cycles in ${secs.toFixed(1)} s (${(CYCLES / secs).toFixed(1)} cycles/s) under ${READERS} reader processes`);
    t.comment(`figure load.latency: grant (update call to the driver's first read of the new bytes) ${(grantMs / CYCLES).toFixed(1)} ms mean, revoke (update call to the driver's ENOENT) ${(revokeMs / CYCLES).toFixed(1)} ms mean`);
    t.comment(`figure load.reads: ${reads} successful reads, ${misses} ENOENT on open, ${eio} EIO on the first read (opened, then revoked before reading: served nothing), ${wrong} wrong or partial, ${errors} other errors`);
    t.comment(`figure load.reads-after-revoke: ${late} successful reads opened after their revoke was reported done`);
    t.comment(`figure load.agent-rss: start ${(rssStart / 1024).toFixed(1)} MiB, end ${(rssEnd / 1024).toFixed(1)} MiB (${growMiB >= 0 ? '+' : ''}${growMiB.toFixed(1)} MiB; bound +${RSS_BOUND_MIB} MiB)`);
  });
}
