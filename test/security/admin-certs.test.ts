// Issue 9, finding 8a: admin certificates were not recorded and could not be revoked (valid 360 days). Attack: keep
// using an admin certificate over TLS after it was revoked, on a new connection and on one already open. Now every
// admin certificate is recorded (serial, subject, dates) in the state dir, valid 30 days by default
// (`--expiry`), listed by `manager cert ls` and revoked at once by `manager cert revoke SERIAL`. Real manager, real
// TLS client.
import t from 'tap';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startManager, waitFor, type ManagerHandle } from '../helpers/manager.js';

interface Creds {
  ca: string;
  cert: string;
  key: string;
}

function creds(dir: string): Creds {
  return { ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
}

/** GET path over mutual TLS; resolves to the status, or to the error's code/message when the connection is cut. */
function get(m: ManagerHandle, c: Creds, path: string, agent?: https.Agent): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.request(
      { host: '127.0.0.1', port: m.tcpPort, path, method: 'GET', ca: [c.ca], cert: c.cert, key: c.key, servername: 'localhost', ...(agent ? { agent } : { agent: false }) },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

if (process.getuid?.() !== 0) {
  t.test('the whole file', { skip: 'needs root (the manager state dir is root-only)' }, () => undefined);
} else {
  t.test('admin certificates: recorded, 30 days by default, revoked at once', async (t) => {
    const m = await startManager({ t });
    const work = mkdtempSync(join(tmpdir(), 'rs-admincert-'));
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => {
      keepAlive.destroy();
      rmSync(work, { recursive: true, force: true });
    });
    const outA = join(work, 'a');
    const outB = join(work, 'b');
    const ra = await m.cli(['manager', 'cert', 'admin', '--out', outA, '--socket', m.socket]);
    t.equal(ra.code, 0, ra.stderr);
    const serialA = /Serial ([0-9A-F]+), valid until (\S+)/.exec(ra.stdout)?.[1] ?? 'missing';
    const rb = await m.cli(['manager', 'cert', 'admin', '--out', outB, '--expiry', '1h', '--socket', m.socket]);
    t.equal(rb.code, 0, rb.stderr);
    const a = creds(outA);
    const b = creds(outB);
    const days = (pem: string): number => (Date.parse(new X509Certificate(pem).validTo) - Date.now()) / 86400_000;
    t.ok(days(a.cert) > 29.9 && days(a.cert) < 30.1, `default validity 30 days (${days(a.cert).toFixed(2)})`);
    t.ok(days(b.cert) * 24 > 0.9 && days(b.cert) * 24 < 1.1, '--expiry 1h');
    t.equal(new X509Certificate(a.cert).serialNumber.toUpperCase(), serialA, 'the printed serial is the certificate\'s');
    const bad = await m.cli(['manager', 'cert', 'admin', '--out', join(work, 'c'), '--expiry', '10s', '--socket', m.socket]);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /invalid --expiry "10s": expected a duration from 1m to 8760h/);

    const ls = await m.cli(['manager', 'cert', 'ls', '--socket', m.socket]);
    t.match(ls.stdout, /^SERIAL\s+ID\s+ISSUED\s+EXPIRES\s+STATUS\n/, 'cert ls header');
    t.match(ls.stdout, new RegExp(`${serialA}\\s+\\S+\\s+\\S+\\s+\\S+\\s+valid\\n`), 'A listed as valid');
    t.equal((await m.cli(['manager', 'cert', 'ls', '-q', '--socket', m.socket])).stdout.trim().split('\n').length, 3, "three: the helper's, A and B");

    // A works, on a fresh connection and on a kept-alive one.
    t.equal(await get(m, a, '/secrets'), 200, 'A works');
    t.equal(await get(m, a, '/secrets', keepAlive), 200, 'A works on a kept-alive connection');
    const rv = await m.cli(['manager', 'cert', 'revoke', serialA.toLowerCase(), '--socket', m.socket]);
    t.equal(rv.code, 0, rv.stderr);
    t.equal(rv.stdout, `Admin certificate ${serialA} revoked.\n`);
    const onOpen = await get(m, a, '/secrets', keepAlive);
    t.not(onOpen, 200, `the open connection is cut at its next request (${String(onOpen)})`);
    const fresh = await get(m, a, '/secrets');
    t.not(fresh, 200, `a new connection is refused (${String(fresh)})`);
    t.equal(await get(m, b, '/secrets'), 200, 'B still works');
    const logged = new RegExp(`"serial":"${serialA}"[^\\n]*revoked certificate refused`);
    t.ok(await waitFor(() => logged.test(m.logs()), 'the refusal in the log'), 'the refusal is logged with the serial');
    t.match((await m.cli(['manager', 'cert', 'ls', '--socket', m.socket])).stdout, new RegExp(`${serialA}\\s+\\S+\\s+\\S+\\s+\\S+\\s+revoked\\n`), 'listed as revoked');
    const unknown = await m.cli(['manager', 'cert', 'revoke', 'ABCDEF', '--socket', m.socket]);
    t.equal(unknown.code, 1);
    t.match(unknown.stderr, /no admin certificate with serial ABCDEF was issued by this manager/);

    // Kept across restarts: the record and the revocation.
    await m.restart();
    t.not(await get(m, a, '/secrets'), 200, 'still refused after a restart');
    t.equal(await get(m, b, '/secrets'), 200, 'B still works after a restart');
    t.match((await m.cli(['manager', 'cert', 'ls', '--socket', m.socket])).stdout, new RegExp(`${serialA}\\s+\\S+\\s+\\S+\\s+\\S+\\s+revoked\\n`));
  });
}
