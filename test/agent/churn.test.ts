// Many readers while tasks come, go and rotate: the agent stays up, readers only ever see their task's bytes,
// the kernel accepts every notification, and the final mount matches the manifests exactly.
import t from 'tap';
import { writeFileSync, readFileSync, renameSync, rmSync, unlinkSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fuseSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';
import { startAgent, tempDirs, forceUnmount } from '../helpers/agent.js';

const TASKS = 20;
const OPS = 600;

function writeAtomic(path: string, data: string): void {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

const manifest = (i: number) => `secrets:\n  - { file: ./s${i}, target: x }\n  - { file: ./s${i}, target: d/y }\n`;

t.test('churn under readers', fuseSkip(), async (t) => {
  const d = tempDirs();
  for (let i = 0; i < TASKS; i++) {
    writeFileSync(join(d.tasksDir, `s${i}`), `v0-${i}`);
    writeFileSync(join(d.tasksDir, `t${i}.yaml`), manifest(i));
  }
  const agent = await startAgent(d);
  t.teardown(async () => {
    await agent.stop();
    forceUnmount(d.mount);
    rmSync(d.dir, { recursive: true, force: true });
  });
  await waitFor('all tasks', () => existsSync(join(d.mount, `t${TASKS - 1}/d/y`)));
  const stop = join(d.dir, 'stop');
  const readers = Array.from({ length: 6 }, () => {
    const p = spawn(process.execPath, [join(import.meta.dirname, '../fixtures/churn-reader.mjs'), d.mount, stop, String(TASKS)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    return {
      ready: () => out.startsWith('ready\n'),
      done: new Promise<{ reads: number; misses: number; wrong: string[] }>((res) =>
        p.on('close', () => res(JSON.parse(out.replace(/^ready\n/, '') || '{"reads":0,"misses":0,"wrong":["no output"]}'))),
      ),
    };
  });
  await waitFor('readers started', () => readers.every((r) => r.ready()), { timeoutMs: 15000 });
  for (let op = 1; op <= OPS; op++) {
    const i = op % TASKS;
    const m = join(d.tasksDir, `t${i}.yaml`);
    if (op % 3 === 0) {
      if (existsSync(m)) unlinkSync(m);
    } else {
      writeAtomic(join(d.tasksDir, `s${i}`), `v${op}-${i}`);
      writeAtomic(m, manifest(i));
    }
    if (op % 20 === 0) await new Promise((r) => setImmediate(r));
  }
  // Settled: every manifest present has its folder with its source's bytes; every other folder is gone.
  await waitFor('mount matches the manifests', () => {
    for (let i = 0; i < TASKS; i++) {
      const want = existsSync(join(d.tasksDir, `t${i}.yaml`));
      if (existsSync(join(d.mount, `t${i}`)) !== want) return false;
      if (want && readFileSync(join(d.mount, `t${i}/x`), 'utf8') !== readFileSync(join(d.tasksDir, `s${i}`), 'utf8')) return false;
    }
    return readdirSync(d.mount).length === readdirSync(d.tasksDir).filter((f) => f.endsWith('.yaml')).length;
  }, { timeoutMs: 10000, intervalMs: 50 });
  t.pass('final mount matches the manifests');
  writeFileSync(stop, '');
  for (const r of await Promise.all(readers.map((x) => x.done))) {
    t.ok(r.reads > 0, `reader: ${r.reads} reads, ${r.misses} misses (task gone)`);
    t.same(r.wrong, [], 'only its own task bytes');
  }
  t.equal(agent.proc.exitCode, null, 'agent still up');
  t.same(agent.logs().filter((l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal'), [], 'no warnings');
});
