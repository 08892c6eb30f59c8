// Fuzzed manifests: 10,000 random and mutated texts. parseManifest either returns a valid manifest or throws a
// ManifestError that names the problem; never anything else, never a hang. The seed is printed for replay.
import t from 'tap';
import { parseManifest, targetError, ManifestError } from '../../agent/local/manifest.js';
import { isValidObjectName } from '../../shared/names.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CASES = 10000;

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  'task: web\nuid: 1000\ngid: 1000\nsecrets:\n  - file: ./a.txt\n    target: a\n    mode: "0440"\nconfigs:\n  - { file: b, target: c/d }\n',
  '{"task":"api","secrets":[{"file":"x","target":"y","uid":"5","gid":6,"mode":292}]}',
  'secrets: []\n',
];
const PIECES = ['..', '/', '//', '\0', '{', '}', '[', ']', ':', '- ', '\n', '  ', '"', "'", '&a', '*a', '!!binary', '0o777', '0999',
  '-1', '1e400', 'null', '~', 'task:', 'uid:', 'mode:', 'file:', 'target:', 'secrets:', 'configs:', '\u202e', '😀', 'x'.repeat(300), '%', '#', '|', '>'];

t.test(`fuzz parseManifest (seed ${SEED}, ${CASES} cases)`, async (t) => {
  const rand = rng(SEED);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  let valid = 0;
  let refused = 0;
  const unexpected: string[] = [];
  const started = Date.now();
  for (let c = 0; c < CASES; c++) {
    let text = pick(SEEDS);
    const edits = 1 + Math.floor(rand() * 6);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rand() * (text.length + 1));
      const r = rand();
      if (r < 0.4) text = text.slice(0, at) + pick(PIECES) + text.slice(at);
      else if (r < 0.7) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 8));
      else if (r < 0.9) text = text.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0x3000)) + text.slice(at);
      else text = Array.from({ length: Math.floor(rand() * 200) }, () => String.fromCharCode(Math.floor(rand() * 128))).join('');
    }
    const path = rand() < 0.5 ? '/t/case.yaml' : '/t/case.json';
    try {
      const m = parseManifest(text, path);
      // Whatever is accepted must obey every rule.
      if (!isValidObjectName(m.task)) unexpected.push(`case ${c}: accepted bad task name ${JSON.stringify(m.task)}`);
      for (const f of m.files) {
        if (targetError(f.target) !== null) unexpected.push(`case ${c}: accepted bad target ${JSON.stringify(f.target)}`);
        if (!(f.mode >= 0 && f.mode <= 0o7777)) unexpected.push(`case ${c}: accepted mode ${f.mode}`);
        if (!Number.isInteger(f.uid) || !Number.isInteger(f.gid)) unexpected.push(`case ${c}: accepted ids ${f.uid}/${f.gid}`);
      }
      valid++;
    } catch (err) {
      if (err instanceof ManifestError && err.message.length > 0) refused++;
      else unexpected.push(`case ${c}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} for ${JSON.stringify(text.slice(0, 80))}`);
    }
  }
  t.same(unexpected.slice(0, 10), [], `only valid manifests or ManifestErrors (replay with FUZZ_SEED=${SEED})`);
  t.equal(valid + refused, CASES);
  t.comment(`${valid} accepted, ${refused} refused in ${Date.now() - started} ms`);
});
