// Fuzzed manifests against a real standalone agent: 10,000 random and mutated manifest files dropped into its
// tasks folder (100 rounds of 100 files). Every file gets exactly one outcome in the agent's log (applied, or
// refused with a reason), the agent never crashes or stalls, a good task defined alongside keeps its exact bytes the
// whole time, nothing but what valid manifests defined ever shows on the mount, and no log line holds secret bytes.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseSkip } from '../helpers/env.js';
import { startAgent, tempDirs, forceUnmount } from '../helpers/agent.js';
import { fuzzManifest, rng } from '../helpers/manifest-gen.js';
import { waitFor } from '../helpers/wait.js';
import { fuzzSeed } from '../helpers/fuzz.js';

const SEED = fuzzSeed();
const ROUNDS = 100;
const PER_ROUND = 100;

t.test('fuzzed manifests on a running standalone agent', fuseSkip(), async (t) => {
  const dirs = tempDirs('rs-mfuzz-');
  // Sources that the seed manifests name (./a.txt, b, x), so that valid fuzz results really publish bytes.
  const markers = new Map<string, Buffer>();
  for (const name of ['a.txt', 'b', 'x', 'keep-src']) {
    const m = Buffer.from(`marker-${name}-${randomBytes(16).toString('hex')}`);
    markers.set(name, m);
    writeFileSync(join(dirs.tasksDir, name), m);
  }
  writeFileSync(join(dirs.tasksDir, 'keep.yaml'), 'task: keep\nsecrets:\n  - file: keep-src\n    target: k\n');
  const agent = await startAgent(dirs);
  t.teardown(async () => {
    await agent.stop('SIGKILL');
    forceUnmount(dirs.mount);
    rmSync(dirs.dir, { recursive: true, force: true });
  });
  const keepPath = join(dirs.mount, 'keep', 'k');
  t.same(readFileSync(keepPath), markers.get('keep-src'), 'the good task is served before the fuzzing');
  t.comment(`seed manifest-agent: ${SEED} (replay: RS_SEED=${SEED})`);

  const rand = rng(SEED);
  const started = Date.now();
  let applied = 0;
  let refused = 0;
  let keepIntact = 0;
  const problems: string[] = [];
  for (let r = 0; r < ROUNDS && problems.length === 0; r++) {
    const from = agent.logs().length;
    const paths = new Map<string, string>(); // path -> text, for replay messages
    for (let i = 0; i < PER_ROUND; i++) {
      const path = join(dirs.tasksDir, `r${r}-${i}.${rand() < 0.5 ? 'yaml' : 'json'}`);
      const text = fuzzManifest(rand);
      paths.set(path, text);
      // Written aside and renamed in, as the README asks of manifests: the agent never sees a half-written file.
      writeFileSync(`${path}.part`, text);
      renameSync(`${path}.part`, path);
    }
    // One outcome line per file: applied/unchanged (valid) or refused (with the reason).
    const outcome = new Map<string, string>();
    await waitFor(`outcomes of round ${r}`, () => {
      for (const l of agent.logs().slice(from)) {
        const f = l.file as string | undefined;
        if (!f || !paths.has(f) || outcome.has(f)) continue;
        if (l.msg === 'task applied' || l.msg === 'task unchanged') outcome.set(f, 'applied');
        else if (l.msg === 'manifest refused' && typeof l.err === 'string' && l.err.length > 0) outcome.set(f, 'refused');
        else if (l.msg === 'manifest reload failed') outcome.set(f, `unexpected: ${String(l.err)}`);
      }
      return outcome.size === paths.size || agent.proc.exitCode !== null ? true : null;
    }, { timeoutMs: 30_000 });
    if (agent.proc.exitCode !== null) {
      problems.push(`agent exited (${agent.proc.exitCode}) in round ${r}`);
      break;
    }
    for (const [f, o] of outcome) {
      if (o === 'applied') applied++;
      else if (o === 'refused') refused++;
      else problems.push(`${f}: ${o} for ${JSON.stringify(paths.get(f)!.slice(0, 120))}`);
    }
    // The mount shows only what valid manifests define.
    const tasksNow = new Set(readdirSync(dirs.mount));
    if (!tasksNow.has('keep')) problems.push(`round ${r}: the good task vanished`);
    const good = readFileSync(keepPath);
    if (good.equals(markers.get('keep-src')!)) keepIntact++;
    else problems.push(`round ${r}: the good task's bytes changed`);
    // Remove this round's files; the tasks they defined must go (one "task removed" per applied file).
    const removedFrom = agent.logs().length;
    for (const p of paths.keys()) rmSync(p);
    const appliedFiles = [...outcome].filter(([, o]) => o === 'applied').map(([f]) => f);
    await waitFor(`removals of round ${r}`, () => {
      const gone = new Set(agent.logs().slice(removedFrom).filter((l) => l.msg === 'task removed').map((l) => l.file as string));
      return appliedFiles.every((f) => gone.has(f)) ? true : null;
    }, { timeoutMs: 30_000 });
    const left = readdirSync(dirs.mount).filter((n) => n !== 'keep');
    if (left.length > 0) problems.push(`round ${r}: tasks left after their manifests were removed: ${left.join(', ')}`);
  }
  const ms = Date.now() - started;
  t.same(problems.slice(0, 10), [], `no crash, no stall, one clear outcome per file (replay: RS_SEED=${SEED})`);
  t.equal(applied + refused, ROUNDS * PER_ROUND, 'every case has an outcome');
  t.equal(keepIntact, ROUNDS, 'the good task kept its exact bytes through every round');
  t.equal(agent.proc.exitCode, null, 'the agent is still running');
  const logText = agent.logs().map((l) => JSON.stringify(l)).join('\n');
  const leaked = [...markers].filter(([, m]) => logText.includes(m.toString())).map(([n]) => n);
  t.same(leaked, [], 'no log line holds secret bytes');
  t.comment(`figure fuzz.manifest-agent: ${applied + refused} manifest files on a live agent, ${applied} applied, ${refused} refused with a logged reason, good task intact in ${keepIntact}/${ROUNDS} rounds, ${ms} ms`);
});
