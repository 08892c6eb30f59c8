// Issue 9, finding 8b: joins were not throttled and each bad token logged a line (5,000 lines for 5,000 tries).
// Attack: 5,000 joins with a wrong token from 127.0.0.1, as fast as 16 connections go. Now failed attempts are
// throttled per source address (a token bucket: 2 a second, burst 10, answered 429 beyond it, logging nothing) and
// the bad-token line is rate-limited; a valid token from the same address still joins (only failures are
// throttled: the token's 129 random bits, not the bucket, are what make guessing hopeless). Real manager (at its
// default log level), real TLS.
import t from 'tap';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startManager, type ManagerHandle } from '../helpers/manager.js';
import { createLogger } from '../../shared/log.js';
import { joinCluster } from '../../agent/session/join.js';

const TRIES = 5000;
const PARALLEL = 16;

function join1(m: ManagerHandle, ca: string, agent: https.Agent, token: string): Promise<{ status: number; retryAfter: string | undefined; message: string }> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(JSON.stringify({ Token: token, CSR: 'x', Hostname: 'flood' }));
    const req = https.request(
      { host: '127.0.0.1', port: m.tcpPort, path: '/runsecrets/join', method: 'POST', ca: [ca], servername: 'localhost', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let message = '';
          try {
            message = String((JSON.parse(text) as { message?: unknown }).message ?? '');
          } catch {
            message = text;
          }
          const ra = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(ra) ? ra[0] : ra, message });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

if (process.getuid?.() !== 0) {
  t.test('the whole file', { skip: 'needs root (the manager state dir is root-only)' }, () => undefined);
} else {
  t.test('5,000 bad-token joins: throttled, a few log lines; a valid token still joins', async (t) => {
    const m = await startManager({ t, logLevel: 'info' });
    const work = mkdtempSync(join(tmpdir(), 'rs-throttle-'));
    const agent = new https.Agent({ keepAlive: true, maxSockets: PARALLEL });
    t.teardown(() => {
      agent.destroy();
      rmSync(work, { recursive: true, force: true });
    });
    const ca = readFileSync(join(m.adminCertDir, 'ca.pem'), 'utf8');
    // Same CA digest, wrong secret: the manager checks it (a malformed token would be refused the same way).
    const bad = m.workerToken.replace(/-[0-9a-z]{25}$/, '-' + '0'.repeat(25));
    const logBefore = m.logs().split('\n').length;
    const counts = new Map<number, number>();
    let sample429 = { retryAfter: '', message: '' };
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < TRIES) {
          next++;
          const r = await join1(m, ca, agent, bad);
          counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
          if (r.status === 429) sample429 = { retryAfter: r.retryAfter ?? '', message: r.message };
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const n401 = counts.get(401) ?? 0;
    const n429 = counts.get(429) ?? 0;
    t.equal(n401 + n429, TRIES, `every try answered 401 or 429 (${JSON.stringify([...counts])})`);
    // The bucket: 10 at once, then 2 a second.
    t.ok(n401 <= 10 + Math.ceil(seconds * 2) + 2, `${n401} answered 401 in ${seconds.toFixed(1)} s: at most the burst and the rate`);
    t.ok(n429 >= TRIES * 0.9, `${n429} answered 429`);
    t.match(sample429.message, /^too many failed join attempts from \S+: try again in \d+ s$/, 'a clear 429 message');
    t.match(sample429.retryAfter, /^\d+$/, 'with Retry-After');

    // The log: the flood's lines are few.
    const lines = m.logs().split('\n').slice(logBefore - 1).filter((l) => l.trim() !== '');
    const badToken = lines.filter((l) => l.includes('join refused: invalid token')).length;
    t.ok(badToken >= 1 && badToken <= 20, `${badToken} "join refused: invalid token" lines`);
    t.ok(lines.length <= 50, `${lines.length} manager log lines in all for ${TRIES} tries`);
    t.comment(`figure join-flood: ${TRIES} bad-token joins in ${seconds.toFixed(1)} s: ${n401} answered 401, ${n429} answered 429, ${lines.length} log lines`);

    // The same source, still throttled for bad tokens, joins with the valid one.
    t.equal((await join1(m, ca, agent, bad)).status, 429, 'a bad token right after: 429');
    const id = await joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: m.workerToken, stateDir: join(work, 'legit'), hostname: 'legit', labels: {}, log: createLogger('test', 'silent') });
    t.ok(id.nodeId, 'a valid token from 127.0.0.1 joins during the throttle');
  });
}
