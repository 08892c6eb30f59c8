// Secret bytes on a managed worker: a real manager and a real `agent run --manager` process. A secret holding a
// random marker is granted to a task; we scan the agent's whole memory (/proc/PID/mem, as root) while granted,
// after a revoke (service update without the secret) and after a service rm, each time after the agent's own
// forced GC. Nothing under the agent's state dir, /tmp (recursively) or its log lines may hold the marker, and
// the agent runs with core dumps off.
import t from 'tap';
import { lstatSync, readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fuseSkipReason } from '../helpers/env.js';
import { startManager, request, waitFor } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { findInMemory, describeHits } from '../helpers/memscan.js';
import { mountPoints } from '../../agent/fs/mountinfo.js';
import { createSecret, createService, runningTask, serviceSpec, updateService } from '../helpers/cluster-ops.js';

/**
 * Regular files under root on root's filesystem (other filesystems, mounts among them, are not disks we own). Mount
 * points are never touched: a stat of a FUSE mount whose server hangs would hang.
 */
function* filesUnder(root: string): Generator<string> {
  const dev = statSync(root).dev;
  const mounts = mountPoints();
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue; // vanished meanwhile (other tests use /tmp too)
    }
    for (const n of names) {
      const p = join(dir, n);
      if (mounts.has(p)) continue;
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.dev !== dev) continue;
      if (st.isDirectory()) stack.push(p);
      else if (st.isFile()) yield p;
    }
  }
}

/** Files under the roots holding marker, and how many files were read. */
function filesHolding(roots: string[], markers: Buffer[]): { hits: string[]; scanned: number } {
  const hits: string[] = [];
  let scanned = 0;
  for (const root of roots) {
    for (const f of filesUnder(root)) {
      let data: Buffer;
      try {
        data = readFileSync(f);
      } catch {
        continue;
      }
      scanned++;
      if (markers.some((m) => data.includes(m))) hits.push(f);
    }
  }
  return { hits, scanned };
}

const skip = fuseSkipReason();
if (skip) {
  t.comment(`SKIP worker-bytes: ${skip}`);
  t.test('the whole file', { skip }, () => undefined);
} else {
  t.test('no copy of a secret survives on a managed worker after revoke or stop', async (t) => {
    const m = await startManager({ t });
    const a = managedAgent({ managerPort: m.tcpPort, hostname: 'bytes-a' });
    t.teardown(() => a.cleanup());
    await a.start(m.workerToken);
    const pid = a.proc!.pid!;
    const marker = (label: string): Buffer => Buffer.from(`rsmark-${label}-${randomBytes(32).toString('hex')}`);

    /** Asks the agent for a forced GC (SIGUSR2), waits until it ran, then scans. */
    const scanAfterGc = async (m: Buffer): Promise<ReturnType<typeof findInMemory>> => {
      const from = a.logs().length;
      process.kill(pid, 'SIGUSR2');
      await a.waitLog((l) => l.msg === 'forced GC (SIGUSR2)', from, 20_000);
      return findInMemory(pid, m);
    };

    // 1. Granted, then revoked by a service update that removes the secret.
    const m1 = marker('revoke');
    const s1 = await createSecret(m, 'bytes1', m1);
    await createService(m, serviceSpec('bytes-svc', 'bytes-a', [{ id: s1, name: 'bytes1' }]));
    const task = await runningTask(m, 'bytes-svc');
    const file = join(a.mount, task.ID, 'bytes1');
    await waitFor(() => existsSync(file) && readFileSync(file).equals(m1), 'the secret on the mount');
    for (let i = 0; i < 20; i++) readFileSync(file);
    const granted = await scanAfterGc(m1);
    t.comment(`while granted: ${granted.length} copies: ${describeHits(granted)}`);
    t.equal(granted.length, 2, `while granted: the object's Buffer and the task file's Buffer (${describeHits(granted)})`);

    await updateService(m, 'bytes-svc', serviceSpec('bytes-svc', 'bytes-a', []));
    await waitFor(() => !existsSync(file), 'the file gone after the revoke');
    const afterRevoke = await scanAfterGc(m1);
    t.equal(afterRevoke.length, 0, `after revoke + forced GC: no copy (${describeHits(afterRevoke)})`);

    // 2. Granted, then the task stopped by service rm.
    const m2 = marker('stop');
    const s2 = await createSecret(m, 'bytes2', m2);
    await updateService(m, 'bytes-svc', serviceSpec('bytes-svc', 'bytes-a', [{ id: s2, name: 'bytes2' }]));
    const file2 = join(a.mount, task.ID, 'bytes2');
    await waitFor(() => existsSync(file2) && readFileSync(file2).equals(m2), 'the second secret on the mount');
    const granted2 = await scanAfterGc(m2);
    t.equal(granted2.length, 2, `second secret while granted: two copies (${describeHits(granted2)})`);
    t.equal((await request(m.socket, 'DELETE', '/services/bytes-svc')).status, 200, 'service rm');
    await waitFor(() => !existsSync(join(a.mount, task.ID)), 'the task folder gone after service rm', 30_000);
    const afterStop = await scanAfterGc(m2);
    t.equal(afterStop.length, 0, `after service rm + forced GC: no copy (${describeHits(afterStop)})`);

    // 3. A large secret (many TLS records: ws assembles the message from many socket reads), revoked. It is made
    // of 64-byte lines that all start with one random prefix, so one scan finds every piece of it that survives.
    const m3 = marker('large');
    const prefix = m3.subarray(0, 40);
    const LINES = 6400; // 400 KiB
    const big = Buffer.alloc(LINES * 64, 0x2e);
    for (let i = 0; i < LINES; i++) {
      prefix.copy(big, i * 64);
      big.write(String(i).padStart(8, '0'), i * 64 + 40);
    }
    const s3 = await createSecret(m, 'bytes3', big);
    await createService(m, serviceSpec('bytes-big', 'bytes-a', [{ id: s3, name: 'bytes3' }]));
    const task3 = await runningTask(m, 'bytes-big');
    const file3 = join(a.mount, task3.ID, 'bytes3');
    await waitFor(() => existsSync(file3) && readFileSync(file3).equals(big), 'the large secret on the mount');
    const granted3 = await scanAfterGc(prefix);
    t.equal(granted3.length, 2 * LINES, `large secret while granted: every line twice (object and file), ${granted3.length} line copies`);
    await updateService(m, 'bytes-big', serviceSpec('bytes-big', 'bytes-a', []));
    await waitFor(() => !existsSync(file3), 'the large file gone after the revoke');
    const afterRevoke3 = await scanAfterGc(prefix);
    t.equal(afterRevoke3.length, 0, `large secret after revoke + forced GC: no line of it left (${describeHits(afterRevoke3.slice(0, 5))})`);

    // 4. Files and logs.
    // The markers' random parts (hex) are what must not appear, whatever the prefix or encoding around them.
    const tails = [m1.subarray(m1.length - 64), m2.subarray(m2.length - 64), prefix];
    const files = filesHolding([a.stateDir, '/tmp'], tails);
    t.same(files.hits, [], 'no file under the state dir or /tmp holds a marker');
    const logText = JSON.stringify(a.logs());
    t.notOk(tails.some((x) => logText.includes(x.toString())), 'no agent log line holds a marker');
    t.notOk(tails.some((x) => m.logs().includes(x.toString())), 'no manager log line holds a marker');

    // 5. Core dumps off.
    const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
    const core = /^Max core file size\s+(\S+)\s+(\S+)/m.exec(limits);
    t.same(core?.slice(1, 3), ['0', '0'], `core file size soft and hard 0 (${core?.[0] ?? 'no line'})`);

    t.comment(`figure worker-bytes.copies: while granted ${granted.length} (second secret ${granted2.length}, 400 KiB secret ${granted3.length / LINES} (${granted3.length} of its 64-byte lines)), after revoke ${afterRevoke.length} (400 KiB secret: ${afterRevoke3.length} lines), after service rm ${afterStop.length}`);
    t.comment(`figure worker-bytes.files-scanned: ${files.scanned} files under the state dir and /tmp, ${files.hits.length} hold a marker`);
    t.comment(`figure worker-bytes.core-limit: ${core?.[1] ?? '?'} (soft) / ${core?.[2] ?? '?'} (hard)`);
  });
}
