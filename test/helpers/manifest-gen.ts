// Random and mutated task manifests for fuzzing (seeded, so a failing case can be replayed).
export { rng } from './fuzz.js';

export const MANIFEST_SEED_TEXTS = [
  'task: web\nuid: 1000\ngid: 1000\nsecrets:\n  - file: ./a.txt\n    target: a\n    mode: "0440"\nconfigs:\n  - { file: b, target: c/d }\n',
  '{"task":"api","secrets":[{"file":"x","target":"y","uid":"5","gid":6,"mode":292}]}',
  'secrets: []\n',
];

const PIECES = ['..', '/', '//', '\0', '{', '}', '[', ']', ':', '- ', '\n', '  ', '"', "'", '&a', '*a', '!!binary', '0o777', '0999',
  '-1', '1e400', 'null', '~', 'task:', 'uid:', 'mode:', 'file:', 'target:', 'secrets:', 'configs:', '\u202e', '😀', 'x'.repeat(300), '%', '#', '|', '>'];

/** One fuzzed manifest text: a valid seed text with 1-6 random edits (inserts, cuts, odd characters, or noise). */
export function fuzzManifest(rand: () => number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  let text = pick(MANIFEST_SEED_TEXTS);
  const edits = 1 + Math.floor(rand() * 6);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (text.length + 1));
    const r = rand();
    if (r < 0.4) text = text.slice(0, at) + pick(PIECES) + text.slice(at);
    else if (r < 0.7) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 8));
    else if (r < 0.9) text = text.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0x3000)) + text.slice(at);
    else text = Array.from({ length: Math.floor(rand() * 200) }, () => String.fromCharCode(Math.floor(rand() * 128))).join('');
  }
  return text;
}
