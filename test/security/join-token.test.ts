// Issue 9, finding 3: `agent run --token …` kept the worker token in the agent's argv for its whole life, and any
// host user or task read it from /proc/PID/cmdline. Attack: read the running agent's /proc/PID/cmdline and
// /proc/PID/environ as uid 1000 on the host and from a task, and look for the token in its state dir. Now a token
// on argv is refused; it comes from --token-file, RUNSECRETS_TOKEN (removed from process.env at once) or stdin
// (--token -), and is kept nowhere after the join. Real manager, real agent processes, real tasks.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fuseSkipReason } from '../helpers/env.js';
import { startManager, request, runCli, waitFor } from '../helpers/manager.js';
import { managedAgent, type ManagedAgentProc } from '../helpers/managed-agent.js';
import { createService, runningTask, serviceSpec } from '../helpers/cluster-ops.js';

/** Every file under dir, recursively (sockets and the like skipped). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** `cat FILE` as uid 1000 (setpriv): what a host user sees. */
function catAsUser(file: string): { out: string; err: string } {
  const r = spawnSync('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', '--', 'cat', file], { encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr };
}

const skip = fuseSkipReason();
if (skip) {
  t.comment(`SKIP join-token: ${skip}`);
  t.test('the whole file', { skip }, () => undefined);
} else {
  t.test('the join token is never on argv and never kept', async (t) => {
    const m = await startManager({ t });
    const secretPart = /-([0-9a-z]{25})$/.exec(m.workerToken)?.[1] ?? 'missing';
    const work = mkdtempSync(join(tmpdir(), 'rs-token-'));
    chmodSync(work, 0o777); // tasks (uid 1000) write their findings here
    const agents: ManagedAgentProc[] = [];
    t.teardown(async () => {
      for (const a of agents) {
        await a.cleanup();
        rmSync(a.dir, { recursive: true, force: true });
      }
      rmSync(work, { recursive: true, force: true });
    });
    const tokenFile = join(work, 'token');
    writeFileSync(tokenFile, m.workerToken + '\n', { mode: 0o600 });
    chmodSync(tokenFile, 0o600);

    await t.test('--token VALUE is refused, with what to use instead; nothing joins', async (t) => {
      const sd = join(work, 'argv-state');
      const r = await runCli(['agent', 'run', '--manager', `127.0.0.1:${m.tcpPort}`, '--token', m.workerToken, '--state-dir', sd, '--mount', join(work, 'argv-mnt')]);
      t.equal(r.code, 1, 'exit 1');
      t.match(r.stderr, /--token with a value is refused: a token on the command line is readable by every user and task of this host \(\/proc\/PID\/cmdline\)/);
      t.match(r.stderr, /--token-file FILE/, 'says what to use instead');
      t.notOk(existsSync(join(sd, 'node.crt')), 'no identity');
      t.equal(((await request(m.socket, 'GET', '/nodes')).json as unknown[]).length, 1, 'no node joined (the manager only)');
      const two = await runCli(['agent', 'run', '--manager', `127.0.0.1:${m.tcpPort}`, '--token-file', tokenFile, '--state-dir', sd, '--mount', join(work, 'argv-mnt')], {
        env: { RUNSECRETS_TOKEN: m.workerToken },
      });
      t.equal(two.code, 1);
      t.match(two.stderr, /give the join token one way only/, 'two sources: refused');
    });

    // Three agents, one per source. The helper passes --token-file; the others are wrapped in a shell that gives
    // the token through the environment or stdin, read from the file (so it is on no command line at all).
    const byFile = managedAgent({ managerPort: m.tcpPort, hostname: 'by-file' });
    const byEnv = managedAgent({
      managerPort: m.tcpPort,
      hostname: 'by-env',
      wrap: (c, v) => ['sh', ['-c', 'export RUNSECRETS_TOKEN="$(cat "$0")"; exec "$@"', tokenFile, c, ...v]],
    });
    const byStdin = managedAgent({
      managerPort: m.tcpPort,
      hostname: 'by-stdin',
      wrap: (c, v) => ['sh', ['-c', 'exec "$@" < "$0"', tokenFile, c, ...v, '--token', '-']],
    });
    agents.push(byFile, byEnv, byStdin);
    await byFile.start(m.workerToken);
    await byEnv.start();
    await byStdin.start();

    for (const a of agents) {
      await t.test(`agent joined ${a.hostname}: its /proc and state dir hold no token`, async (t) => {
        const pid = a.proc?.pid;
        if (!pid) throw new Error('no agent pid');
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        t.match(cmdline, /agent\0run\0/, 'this is the agent process');
        const asUser = catAsUser(`/proc/${pid}/cmdline`);
        t.match(asUser.out, /agent\0run\0/, 'uid 1000 can read the cmdline');
        t.notOk(asUser.out.includes(secretPart), 'uid 1000: no token in /proc/PID/cmdline');
        const env = catAsUser(`/proc/${pid}/environ`);
        t.notOk(env.out.includes(secretPart), `uid 1000: no token in /proc/PID/environ (${env.err.trim() || 'read'})`);
        if (a !== byEnv) t.notOk(readFileSync(`/proc/${pid}/environ`).includes(secretPart), 'root: no token in /proc/PID/environ either');
        for (const f of filesUnder(a.stateDir)) t.notOk(readFileSync(f).includes(secretPart), `not in ${f.slice(a.stateDir.length + 1)}`);
        t.equal(statSync(a.stateDir).mode & 0o777, 0o700, 'state dir 0700');

        // A task on this host, uid 1000, reads the agent's /proc entries.
        const out = join(work, `task-${a.hostname}`);
        const script = `{ cat /proc/${pid}/cmdline; echo; cat /proc/${pid}/environ; echo; echo END; } > ${out}.tmp 2>&1; mv ${out}.tmp ${out}; exec sleep 1d`;
        await createService(m, serviceSpec(`reader-${a.hostname}`, a.hostname, [], { user: '1000:1000', command: ['/bin/sh', '-c', script] }));
        await runningTask(m, `reader-${a.hostname}`);
        await waitFor(() => existsSync(out), 'the task wrote what it read');
        const seen = readFileSync(out, 'utf8');
        t.match(seen, /END/, 'the task ran its reads');
        t.notOk(seen.includes(secretPart), 'a task: no token in the agent\'s cmdline or environ');
      });
    }
  });
}
