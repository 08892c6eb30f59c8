// Reads one file in a loop until STOPFILE exists, checking that every read is one whole version.
// Content format: "<version>:<length>:" then the letter for that version, up to <length> bytes.
// mode "eof": open, then read until EOF (like cat). mode "fstat": Node's readFileSync (fstat size, then read).
import { openSync, readSync, closeSync, readFileSync, existsSync } from 'node:fs';

const [file, stopFile, mode] = process.argv.slice(2);
const buf = Buffer.alloc(1 << 20);
const bad = [];
let reads = 0;
let badCount = 0;

function note(err) {
  badCount++;
  if (bad.length < 20) bad.push(err);
}

function readEof() {
  const fd = openSync(file, 'r');
  let n = 0;
  for (;;) {
    const r = readSync(fd, buf, n, buf.length - n, null);
    if (r === 0) break;
    n += r;
  }
  closeSync(fd);
  return buf.subarray(0, n);
}

function check(b) {
  const s = b.toString('latin1');
  const m = /^(\d+):(\d+):/.exec(s);
  if (!m) return `no header in ${JSON.stringify(s.slice(0, 30))} (${b.length} bytes)`;
  const [h, v, len] = m;
  if (b.length !== Number(len)) return `version ${v}: ${b.length} bytes, expected ${len}`;
  const letter = String.fromCharCode(97 + (Number(v) % 26));
  for (let i = h.length; i < b.length; i++) if (s[i] !== letter) return `version ${v}: mixed content at byte ${i}`;
  return null;
}

// Stop when the test goes away (stdin closes), so that a failed test never leaves readers spinning.
process.stdin.on('end', () => process.exit(3)).resume();

async function main() {
  while (!existsSync(stopFile)) {
    if (reads % 100 === 0) await new Promise((r) => setImmediate(r)); // let the stdin watch run
    try {
      const b = mode === 'fstat' ? readFileSync(file) : readEof();
      reads++;
      const err = check(b);
      if (err) note(err);
    } catch (e) {
      note(`read failed: ${e.code ?? e.message}`);
    }
  }
  process.stdout.write(JSON.stringify({ reads, badCount, bad }) + '\n');
  process.exit(0);
}
main();
