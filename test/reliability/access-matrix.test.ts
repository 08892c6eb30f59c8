// Who may see what, as a matrix: one real manager, two real managed agents with tasks holding secrets. Every cell
// is an attempt that must be denied, and (where the product can see it) logged without secret bytes:
// no certificate, another CA's, an expired one (signed by the real CA), a removed node's, on the control API and on
// the agent channel; a worker's certificate on the control API; a node asking for another node's tasks and
// secrets over the channel; a task reading another task's folder; a non-root host user reading task folders.
import t from 'tap';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { fuseSkipReason } from '../helpers/env.js';
import { startManager, request, waitFor } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { createSecret, createService, runningTask, serviceSpec, tasksOf } from '../helpers/cluster-ops.js';
import { createLogger } from '../../shared/log.js';
import { OpenCluster } from '../../manager/cluster/state.js';
import { ClusterCA, issueWithNewKey } from '../../manager/pki/ca.js';
import { joinCluster } from '../../agent/session/join.js';
import { ManagerSession } from '../../agent/session/session.js';

interface Client {
  cert?: string;
  key?: string;
}

const skip = fuseSkipReason();
if (skip) {
  t.comment(`SKIP access-matrix: ${skip}`);
  t.test('the whole file', { skip }, () => undefined);
} else {
  const quiet = createLogger('test', 'silent');

  t.test('access matrix', async (t) => {
    const m = await startManager({ t });
    const caPem = readFileSync(join(m.adminCertDir, 'ca.pem'), 'utf8');
    const a = managedAgent({ managerPort: m.tcpPort, hostname: 'matrix-a' });
    const b = managedAgent({ managerPort: m.tcpPort, hostname: 'matrix-b' });
    const work = mkdtempSync(join(tmpdir(), 'rs-matrix-'));
    chmodSync(work, 0o777);
    const sessions: ManagerSession[] = [];
    t.teardown(async () => {
      for (const s of sessions) await s.stop();
      await a.cleanup();
      await b.cleanup();
      for (const d of [a.dir, b.dir, work]) rmSync(d, { recursive: true, force: true });
    });
    await a.start(m.workerToken);
    await b.start(m.workerToken);

    // Secrets: random values, so that any log line holding one is found.
    const values = new Map<string, Buffer>();
    const secret = async (name: string): Promise<string> => {
      const v = Buffer.from(`${name}-${randomBytes(24).toString('hex')}`);
      values.set(name, v);
      return createSecret(m, name, v);
    };
    const sV = await secret('victim_pw');
    const sP = await secret('prober_pw');
    const sB = await secret('b_pw');
    // On A: a victim task (uid 1001); on B: a task of its own.
    await createService(m, serviceSpec('victim', 'matrix-a', [{ id: sV, name: 'victim_pw' }], { user: '1001:1001' }));
    await createService(m, serviceSpec('svc-b', 'matrix-b', [{ id: sB, name: 'b_pw' }], { user: '1003:1003' }));
    const victim = await runningTask(m, 'victim');
    const taskB = await runningTask(m, 'svc-b');
    // On A: a prober task (uid 1000) that tries the victim's folder from inside its own namespace.
    const out = join(work, 'probe');
    const vdir = join(a.mount, victim.ID);
    const probe =
      `{ cat ${vdir}/victim_pw; echo "cat=$?"; ls ${vdir}; echo "ls-folder=$?"; ls ${a.mount}; echo "ls-root=$?"; ` +
      `cat /run/secrets/prober_pw >/dev/null; echo "own=$?"; ` +
      // Through another process's root: every process's /proc/PID/root/run/secrets (ptrace rules guard it).
      `for p in /proc/[0-9]*; do cat $p/root/run/secrets/victim_pw 2>/dev/null && echo "read-via=$p"; done; echo "proc-done"; } > ${out}.tmp 2>&1; mv ${out}.tmp ${out}; exec sleep 1d`;
    await createService(m, serviceSpec('prober', 'matrix-a', [{ id: sP, name: 'prober_pw' }], { user: '1000:1000', command: ['/bin/sh', '-c', probe] }));
    const prober = await runningTask(m, 'prober');
    await waitFor(() => existsSync(join(a.mount, victim.ID, 'victim_pw')) && existsSync(join(b.mount, taskB.ID, 'b_pw')), 'files on both mounts');

    const figures: string[] = [];
    const cell = (id: string, how: string, logged: string): void => {
      figures.push(`figure access.${id}: denied (${how}); logged: ${logged}`);
    };
    /** The first manager log line after `from` (characters) with this msg; its JSON. */
    const managerLog = (from: number, msg: string): Promise<Record<string, unknown>> =>
      waitFor(() => {
        for (const line of m.logs().slice(from).split('\n')) {
          if (!line.includes(msg)) continue;
          try {
            const o = JSON.parse(line) as Record<string, unknown>;
            if (o.msg === msg) return o;
          } catch {
            // partial line
          }
        }
        return null;
      }, `manager log "${msg}"`, 10_000);

    const api = (path: string, client: Client): Promise<{ status?: number; error?: string }> =>
      new Promise((resolve) => {
        const req = https.request({ host: '127.0.0.1', port: m.tcpPort, path, method: 'GET', ca: caPem, ...client, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode }));
          res.on('error', (e) => resolve({ error: e.message }));
        });
        req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
        req.end();
      });
    /** A WebSocket session attempt: 'open' (a failure of the cell), or how it was refused. */
    const channel = (client: Client): Promise<string> =>
      new Promise((resolve) => {
        const ws = new WebSocket(`wss://127.0.0.1:${m.tcpPort}/runsecrets/session`, { ca: caPem, ...client, checkServerIdentity: (() => undefined) as unknown as () => boolean });
        ws.on('open', () => {
          ws.terminate();
          resolve('open');
        });
        ws.on('unexpected-response', (_req, res) => {
          resolve(`HTTP ${String(res.statusCode)}`);
          ws.terminate();
        });
        ws.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      });

    const cluster = await OpenCluster.open(m.stateDir);
    const { ca: otherCa } = await ClusterCA.create('othercluster0000000000000');
    const nodes = (await request(m.socket, 'GET', '/nodes')).json as { ID: string; Description: { Hostname: string } }[];
    const idA = nodes.find((n) => n.Description.Hostname === 'matrix-a')!.ID;
    const foreign = await issueWithNewKey(otherCa, { role: 'worker', nodeId: idA });
    // Expired: issued by the cluster's real CA (its key opened from the manager's state dir, as the manager does),
    // for node A's real ID, with a lifetime that ended a minute ago.
    const expired = await issueWithNewKey(cluster.ca, { role: 'worker', nodeId: idA, days: -1 / 1440 });

    const refusedOnBoth = async (id: string, client: Client, why: RegExp): Promise<void> => {
      await t.test(`${id}: control API and agent channel`, async (t) => {
        let from = m.logs().length;
        const r = await api('/secrets', client);
        t.notOk(r.status, `control API: no answer (${r.error ?? `HTTP ${String(r.status)}`})`);
        const l1 = await managerLog(from, 'request without a valid cluster certificate refused');
        t.match(String(l1.why), why, `logged with the reason: ${String(l1.why)}`);
        t.equal(l1.level, 'warn', 'as a warning');
        from = m.logs().length;
        const c = await channel(client);
        t.equal(c, 'HTTP 401', 'agent channel: session refused');
        const l2 = await managerLog(from, 'session refused');
        t.match(l2, { level: 'warn', cert: why }, `logged with the reason: ${String(l2.cert)}`);
        cell(`${id}.api`, `connection dropped, ${r.error ?? ''}`, `"${String(l1.msg)}" why=${String(l1.why)}`);
        cell(`${id}.channel`, c, `"${String(l2.msg)}" why=${String(l2.why)} cert=${String(l2.cert)}`);
      });
    };
    await refusedOnBoth('no-certificate', {}, /.+/);
    await refusedOnBoth('other-ca', { cert: foreign.certPem, key: foreign.keyPem }, /UNABLE_TO|unable to/i);
    await refusedOnBoth('expired', { cert: expired.certPem, key: expired.keyPem }, /CERT_HAS_EXPIRED|expired/i);

    await t.test('a worker certificate on the control API: 403', async (t) => {
      const worker = { cert: readFileSync(join(a.stateDir, 'node.crt'), 'utf8'), key: readFileSync(join(a.stateDir, 'node.key'), 'utf8') };
      const hows: string[] = [];
      for (const path of ['/secrets', `/secrets/${sB}`, '/tasks', `/tasks/${taskB.ID}`, '/services']) {
        const from = m.logs().length;
        const r = await api(path, worker);
        t.equal(r.status, 403, path);
        const l = await managerLog(from, 'request denied');
        t.match(l, { level: 'warn', role: 'worker', node: idA, path, status: 403 }, `logged: ${path}`);
        hows.push(`${path} ${String(r.status)}`);
      }
      cell('worker-cert-on-api', hows.join(', '), '"request denied" role=worker node=<A>');
    });

    await t.test("a node asking for another node's tasks or secrets", async (t) => {
      // A node can send only heartbeats and status reports: there is no request message. What it can try: report
      // on B's task, send a type the manager does not know. Here a third node (a real joined worker) does so.
      const spy = await joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: m.workerToken, stateDir: join(work, 'spy'), hostname: 'spy', labels: {}, log: quiet });
      const got: { tasks: string[]; objects: string[] } = { tasks: [], objects: [] };
      const s = new ManagerSession({
        manager: { host: '127.0.0.1', port: m.tcpPort },
        identity: spy,
        log: quiet,
        onAssign: async (msg) => {
          got.tasks.push(...msg.tasks.map((x) => x.id));
          got.objects.push(...msg.objects.map((o) => o.id));
        },
        onConnected: () => undefined,
      });
      sessions.push(s);
      s.start();
      await waitFor(() => s.isConnected, 'the spy session');
      let from = m.logs().length;
      s.send({ type: 'status', taskId: taskB.ID, state: 'failed', err: 'forged' });
      const l1 = await managerLog(from, "status for a task that is not this node's: ignored");
      t.equal(l1.task, taskB.ID, "status for B's task: ignored and logged");
      from = m.logs().length;
      s.send({ type: 'get-secret', id: sB } as unknown as Parameters<ManagerSession['send']>[0]);
      // Frames are parsed into typed messages (shared/protocol.ts): a type the protocol does not have is a protocol
      // error, logged, and the session is closed (1002); the node must reconnect.
      const l2 = await managerLog(from, 'bad frame from agent');
      t.match(String(l2.err), /type/, `an unknown request type: refused and logged (${String(l2.err)})`);
      await waitFor(() => s.isConnected, 'the spy reconnected');
      t.equal((await tasksOf(m, 'svc-b')).find((x) => x.ID === taskB.ID)?.Status.State, 'running', "B's task is still running");
      t.same(got, { tasks: [], objects: [] }, 'the spy was sent no task and no secret');
      // The real agents: each mount holds its own tasks' folders only.
      const aTasks = new Set([victim.ID, prober.ID]);
      t.same(readdirSync(a.mount).sort(), [...aTasks].sort(), "A's mount: A's tasks only");
      t.same(readdirSync(b.mount), [taskB.ID], "B's mount: B's task only");
      cell('node-asks-for-other-node', "status for B's task ignored, unknown message type refused (session closed), assignments hold only own tasks", `"${String(l1.msg)}", "${String(l2.msg)}"`);
    });

    await t.test("a removed node's certificate: refused at once on the channel and the API", async (t) => {
      const gone = await joinCluster({ manager: { host: '127.0.0.1', port: m.tcpPort }, token: m.workerToken, stateDir: join(work, 'gone'), hostname: 'gone', labels: {}, log: quiet });
      const s = new ManagerSession({ manager: { host: '127.0.0.1', port: m.tcpPort }, identity: gone, log: quiet, onAssign: async () => undefined, onConnected: () => undefined });
      sessions.push(s);
      s.start();
      await waitFor(() => s.isConnected, 'the node session');
      const client = { cert: gone.certPem, key: gone.keyPem };
      t.equal((await api('/_ping', client)).status, 200, 'before: ping answers');
      const from = m.logs().length;
      t.equal((await request(m.socket, 'DELETE', `/nodes/${gone.nodeId}?force=true`)).status, 200, 'node rm');
      await waitFor(() => !s.isConnected, 'the open session cut');
      await s.stop();
      const r = await api('/_ping', client);
      t.notOk(r.status, `control API: no answer (${r.error ?? ''})`);
      const c = await channel(client);
      t.not(c, 'open', `agent channel: ${c}`);
      const l = await managerLog(from, 'revoked certificate refused');
      t.ok(l.serial, 'logged with the serial');
      t.equal(l.level, 'warn', 'as a warning');
      cell('removed-node.api', `connection dropped, ${r.error ?? ''}`, `"${String(l.msg)}"`);
      cell('removed-node.channel', `open session closed at node rm; new one: ${c}`, `"${String(l.msg)}"`);
    });

    await t.test('a flood of refused connections costs a bounded number of log lines', async (t) => {
      const from = m.logs().length;
      let answered = 0;
      for (let i = 0; i < 200; i++) if ((await api('/secrets', {})).status) answered++;
      t.equal(answered, 0, 'all 200 dropped');
      // The limiter allows 20 lines a minute for this kind; earlier cells used some of them.
      const lines = m.logs().slice(from).split('\n').filter((l) => l.includes('request without a valid cluster certificate refused'));
      t.ok(lines.length <= 20, `${lines.length} lines for 200 refused requests`);
      cell('flood-200-no-cert', `${200 - answered} of 200 dropped`, `${lines.length} lines (rate limit: 20 a minute per kind; the next line says how many were left out)`);
    });

    const kernelOnly = { todo: 'enforced by the kernel (default_permissions): the agent never sees the attempt, so it cannot log it' };
    await t.test("a task reading another task's folder: EACCES from inside the task", async (t) => {
      const res = await waitFor(() => (existsSync(out) ? readFileSync(out, 'utf8') : null), "the prober's report", 20_000);
      // Inside a task the agent's mount is hidden (the launcher unmounts it in the task's namespace): the other
      // folders are not even there (ENOENT), and the mount point is an empty folder.
      t.match(res, /cat=1/, 'cat of the victim secret fails');
      t.match(res, /victim_pw: (No such file or directory|Permission denied)/, 'with ENOENT (hidden) or EACCES');
      t.match(res, /ls-folder=2/, 'listing the victim folder fails');
      t.notOk(res.includes(victim.ID + '\n'), 'the mount root lists no other task');
      t.match(res, /own=0/, 'its own secret is readable (control)');
      t.match(res, /proc-done/, 'tried every /proc/PID/root/run/secrets/victim_pw');
      t.notOk(res.includes(values.get('victim_pw')!.toString()), 'no victim bytes in the output');
      t.ok(false, 'logged by the product', kernelOnly);
      const how = /victim_pw: Permission denied/.test(res) ? 'EACCES' : 'ENOENT (the mount is hidden in the task)';
      cell('task-reads-other-task', `cat and ls of the victim folder: ${how}; mount root lists nothing; via /proc/PID/root: no read`, 'no (kernel-enforced, invisible to the agent)');
    });

    await t.test('a non-root host user reading task folders or listing the mount root', async (t) => {
      const as = (uid: number, cmd: string[]) =>
        spawnSync('setpriv', ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', '--', ...cmd], { encoding: 'utf8' });
      const hows: string[] = [];
      for (const [what, cmd] of [
        ['ls mount root', ['ls', a.mount]],
        ['ls victim folder', ['ls', vdir]],
        ['cat victim secret', ['cat', join(vdir, 'victim_pw')]],
        ['cat B secret', ['cat', join(b.mount, taskB.ID, 'b_pw')]],
      ] as const) {
        const r = as(1002, [...cmd]);
        t.not(r.status, 0, `${what}: fails`);
        t.match(r.stderr, /Permission denied/, `${what}: EACCES`);
        hows.push(`${what}: EACCES`);
      }
      // Managed mode: the mount root is root-only, so even the folder's owner (the task's uid) cannot walk in from the
      // host: the task reads through its own bind. Control: root reads it.
      const owner = as(1001, ['cat', join(vdir, 'victim_pw')]);
      t.not(owner.status, 0, "the folder's owner (uid 1001) on the host: refused too (the mount root is 0700)");
      t.equal(readFileSync(join(vdir, 'victim_pw'), 'utf8'), values.get('victim_pw')!.toString(), 'control: root reads it');
      t.ok(false, 'logged by the product', kernelOnly);
      cell('host-user-reads-folders', hows.join(', '), 'no (kernel-enforced, invisible to the agent)');
    });

    await t.test('no log line holds secret bytes', async (t) => {
      // Stopped first, so that every line they logged has been written and read.
      await a.cleanup();
      await b.cleanup();
      t.equal(await m.stop(), 0, 'the manager stops cleanly');
      const all = [m.logs(), JSON.stringify(a.logs()), JSON.stringify(b.logs())].join('\n');
      for (const [name, v] of values) t.notOk(all.includes(v.toString()), `${name}: not in any manager or agent log line`);
    });
    for (const f of figures) t.comment(f);
  });
}
