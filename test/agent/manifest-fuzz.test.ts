// Fuzzed manifests: 10,000 random and mutated texts. parseManifest either returns a valid manifest or throws a
// ManifestError that names the problem; never anything else, never a hang. The seed is printed for replay.
import t from 'tap';
import { parseManifest, targetError, ManifestError } from '../../agent/local/manifest.js';
import { isValidObjectName } from '../../shared/names.js';
import { fuzzManifest, rng } from '../helpers/manifest-gen.js';

const SEED = Number(process.env.RS_SEED ?? process.env.FUZZ_SEED ?? 20261128);
const CASES = 10000;

t.test(`fuzz parseManifest (seed ${SEED}, ${CASES} cases)`, async (t) => {
  const rand = rng(SEED);
  let valid = 0;
  let refused = 0;
  const unexpected: string[] = [];
  const started = Date.now();
  for (let c = 0; c < CASES; c++) {
    const text = fuzzManifest(rand);
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
  t.same(unexpected.slice(0, 10), [], `only valid manifests or ManifestErrors (replay with RS_SEED=${SEED})`);
  t.equal(valid + refused, CASES);
  t.comment(`seed manifest-parse: ${SEED} (replay: RS_SEED=${SEED})`);
  t.comment(`figure fuzz.manifest-parse: ${CASES} cases, ${valid} accepted, ${refused} refused with a ManifestError, ${unexpected.length} other outcomes, ${Date.now() - started} ms`);
});
