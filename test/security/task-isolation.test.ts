// What a hostile task can reach, tried as an attacker would on real processes: one real manager, two real managed
// agents on this host, real tasks. A root task (no --user) and a uid-1000 task try every way that worked before
// issue 9: another task's secrets through /proc/PID/root (same uid, other agent's mount, the agent's own root),
// unmounting or remounting their binds, masked /proc paths, the FUSE control files, the agent's state dir; a
// uid-1000 host user walks into MOUNT/<task ID>/; `task exec` run with an open descriptor hands it to the task.
// Each attack must fail while the task still reads its own secrets.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { fuseSkipReason, runsecretsArgv } from '../helpers/env.js';
import { startManager, request, waitFor, BIN } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { createSecret, createService, runningTask, serviceSpec, tasksOf } from '../helpers/cluster-ops.js';
import { askExecTarget } from '../../cli/task/agent-control.js';
import { DOCKER_DEFAULT_CAPS } from '../../agent/executor/launcher.js';

/** Docker's 14 default capabilities as the kernel's bit mask (CapEff in /proc/PID/status). */
const CAP_BITS: Record<string, number> = {
  chown: 0, dac_override: 1, fowner: 3, fsetid: 4, kill: 5, setgid: 6, setuid: 7, setpcap: 8, net_bind_service: 10,
  net_raw: 13, sys_chroot: 18, mknod: 27, audit_write: 29, setfcap: 31,
};
const DOCKER_CAP_MASK = DOCKER_DEFAULT_CAPS.reduce((m, c) => m | (1n << BigInt(CAP_BITS[c]!)), 0n).toString(16).padStart(16, '0');

const skip = fuseSkipReason();
if (skip) {
  t.comment(`SKIP task-isolation: ${skip}`);
  t.test('the whole file', { skip }, () => undefined);
} else {
  t.test('task isolation', async (t) => {
    const m = await startManager({ t });
    const a = managedAgent({ managerPort: m.tcpPort, hostname: 'iso-a' });
    const b = managedAgent({ managerPort: m.tcpPort, hostname: 'iso-b' });
    const work = mkdtempSync(join(tmpdir(), 'rs-iso-'));
    chmodSync(work, 0o777);
    t.teardown(async () => {
      await a.cleanup();
      await b.cleanup();
      for (const d of [a.dir, b.dir, work]) rmSync(d, { recursive: true, force: true });
    });
    await a.start(m.workerToken);
    await b.start(m.workerToken);

    const values = new Map<string, string>();
    const secret = async (name: string): Promise<string> => {
      const v = `${name}-${randomBytes(16).toString('hex')}`;
      values.set(name, v);
      return createSecret(m, name, Buffer.from(v));
    };
    const ids = {
      victimB: await secret('victim_b_pw'),
      victimA: await secret('victim_a_pw'),
      prober: await secret('prober_pw'),
      root: await secret('root_pw'),
    };
    // Victims, uid 1000 as the prober: one on the other agent's mount, one on the same agent.
    await createService(m, serviceSpec('victim-b', 'iso-b', [{ id: ids.victimB, name: 'victim_b_pw', uid: 1000, mode: 0o400 }], { user: '1000:1000' }));
    await createService(m, serviceSpec('victim-a', 'iso-a', [{ id: ids.victimA, name: 'victim_a_pw', uid: 1000, mode: 0o400 }], { user: '1000:1000' }));
    const victimB = await runningTask(m, 'victim-b');
    const victimA = await runningTask(m, 'victim-a');
    await waitFor(() => existsSync(join(a.mount, victimA.ID, 'victim_a_pw')) && existsSync(join(b.mount, victimB.ID, 'victim_b_pw')), 'victim files on both mounts');
    const agentA = a.proc!.pid!;

    /** A probe script: its report lands in WORK/name once done; then it sleeps. */
    const probe = (name: string, body: string[]): string[] => {
      const out = join(work, name);
      return ['/bin/sh', '-c', `{ ${body.join('\n')}\n} > ${out}.tmp 2>&1; mv ${out}.tmp ${out}; exec sleep 1d`];
    };
    const readAll = [
      // Every process the task can see, through its root: the secrets folder and both agents' mounts.
      'for p in /proc/[0-9]*; do',
      `  for f in $p/root/run/secrets/* $p/root${a.mount}/*/* $p/root${b.mount}/*/*; do`,
      '    [ -e "$f" ] || continue; v=$(cat "$f" 2>/dev/null) && echo "read-via=$f:$v"',
      '  done',
      'done',
      `echo "agent-root=$(cat /proc/${agentA}/root${a.mount}/${victimA.ID}/victim_a_pw 2>&1)"`,
      `echo "mount-a=$(ls ${a.mount} 2>&1 | tr '\\n' ' ')"`,
      'echo "pids=$(ls /proc | grep -E "^[0-9]+$" | tr "\\n" " ")"',
    ];
    const rootProbe = probe('root', [
      'echo "own=$(cat /run/secrets/root_pw)"',
      ...readAll,
      "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status",
      'umount /run/secrets 2>/dev/null; echo "umount=$?"',
      'umount -l /run/secrets 2>/dev/null; echo "umount-lazy=$?"',
      'mount -o remount,rw /run/secrets 2>/dev/null; echo "remount-rw=$?"',
      `mount -o remount,rw ${a.mount} 2>/dev/null; echo "remount-mount=$?"`,
      'echo "kcore=$(head -c 64 /proc/kcore 2>/dev/null | wc -c)"',
      'echo "keys=$(cat /proc/keys 2>/dev/null | wc -c)"',
      'echo "proc-sys-write=$( (echo 3 > /proc/sys/vm/drop_caches) 2>&1 | tr -d "\\n")"',
      'echo "sys-write=$( (echo x > /sys/kernel/uevent_helper) 2>&1 | tr -d "\\n")"',
      'echo "fusectl=$(ls /sys/fs/fuse/connections 2>/dev/null | wc -l)"',
      `echo "state-dir=$(ls -A ${a.stateDir} 2>&1 | wc -w)"`,
      'echo "own-after=$(cat /run/secrets/root_pw)"',
    ]);
    const userProbe = probe('user', ['echo "own=$(cat /run/secrets/prober_pw)"', ...readAll]);
    await createService(m, serviceSpec('root-task', 'iso-a', [{ id: ids.root, name: 'root_pw' }], { command: rootProbe }));
    await createService(m, serviceSpec('prober', 'iso-a', [{ id: ids.prober, name: 'prober_pw', uid: 1000, mode: 0o400 }], { user: '1000:1000', command: userProbe }));
    await runningTask(m, 'root-task');
    const prober = await runningTask(m, 'prober');
    const report = async (name: string): Promise<string> => waitFor(() => (existsSync(join(work, name)) ? readFileSync(join(work, name), 'utf8') : null), `the ${name} probe's report`, 30_000);
    const field = (text: string, k: string): string | undefined => new RegExp(`^${k}[=:][ \\t]*(.*)$`, 'm').exec(text)?.[1];
    const noOtherSecret = (t: Test, text: string, own: string): void => {
      for (const [name, v] of values) if (name !== own) t.notOk(text.includes(v), `${name} is not in the report`);
    };

    await t.test('a root task: its own secrets and nothing else', async (t) => {
      const r = await report('root');
      t.equal(field(r, 'own'), values.get('root_pw'), 'reads its own secret');
      t.same(r.match(/^read-via=.*$/gm)?.filter((l) => !l.endsWith(`:${values.get('root_pw')!}`)) ?? [], [], 'no secret but its own read through any /proc/PID/root');
      noOtherSecret(t, r, 'root_pw');
      t.match(field(r, 'agent-root'), /No such file or directory/, "the agent's /proc entry does not exist in the task's PID namespace");
      t.equal(field(r, 'mount-a'), '', "the agent's mount shows nothing inside the task");
      const pids = field(r, 'pids')!.trim().split(' ').map(Number);
      t.ok(pids.length <= 6 && pids.includes(1) && Math.max(...pids) < 100, `ls /proc shows only the task's own processes (${pids.join(' ')})`);
      t.equal(field(r, 'CapEff'), DOCKER_CAP_MASK, "CapEff is Docker's default set");
      t.equal(field(r, 'CapBnd'), DOCKER_CAP_MASK, "the bounding set is Docker's default set");
      t.equal(field(r, 'CapInh'), '0000000000000000', 'no inheritable capability (as Docker)');
      t.equal(field(r, 'CapAmb'), '0000000000000000', 'no ambient capability');
      t.equal(field(r, 'NoNewPrivs'), '1', 'no_new_privs');
      for (const k of ['umount', 'umount-lazy', 'remount-rw', 'remount-mount']) t.not(field(r, k), '0', `${k} of its secrets fails`);
      t.equal(field(r, 'kcore'), '0', '/proc/kcore is masked (reads empty)');
      t.equal(field(r, 'keys'), '0', '/proc/keys is masked');
      // (uid 0 may write these without any capability: only the read-only mount stops it)
      t.match(field(r, 'proc-sys-write'), /Read-only file system/, '/proc/sys is read-only');
      t.match(field(r, 'sys-write'), /Read-only file system/, '/sys is read-only');
      t.equal(field(r, 'fusectl'), '0', "the FUSE control files (abort) are not in the task's /sys");
      t.equal(field(r, 'state-dir'), '0', "the agent's state dir (node key, control socket) is empty inside the task");
      t.equal(field(r, 'own-after'), values.get('root_pw'), 'its secret is still there after the attempts');
    });

    await t.test('a uid-1000 task cannot read another uid-1000 task of another service (same agent or not)', async (t) => {
      const r = await report('user');
      t.equal(field(r, 'own'), values.get('prober_pw'), 'reads its own secret');
      t.same(r.match(/^read-via=.*$/gm)?.filter((l) => !l.endsWith(`:${values.get('prober_pw')!}`)) ?? [], [], 'no secret but its own read through any /proc/PID/root');
      noOtherSecret(t, r, 'prober_pw');
      const pids = field(r, 'pids')!.trim().split(' ').map(Number);
      t.ok(Math.max(...pids) < 100, `ls /proc shows only its own processes (${pids.join(' ')})`);
    });

    await t.test('a uid-1000 host user cannot list or read MOUNT/<task ID>/ in managed mode', async (t) => {
      const as1000 = (cmd: string[]) => spawnSync('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', '--', ...cmd], { encoding: 'utf8' });
      const ls = as1000(['ls', a.mount]);
      t.not(ls.status, 0, `ls MOUNT fails (${ls.stderr.trim()})`);
      const folder = as1000(['ls', join(a.mount, victimA.ID)]);
      t.not(folder.status, 0, `ls MOUNT/<task ID> fails (${folder.stderr.trim()})`);
      const cat = as1000(['cat', join(a.mount, victimA.ID, 'victim_a_pw')]);
      t.not(cat.status, 0, `cat MOUNT/<task ID>/file fails (${cat.stderr.trim()})`);
      t.notOk(cat.stdout.includes(values.get('victim_a_pw')!), 'no bytes');
      t.equal(readFileSync(join(a.mount, victimA.ID, 'victim_a_pw'), 'utf8'), values.get('victim_a_pw'), 'root (the agent) still reads it');
      // Not closed here (as with Docker): a host process of the task's own uid passes ptrace's checks for the task's
      // processes and so reaches /proc/PID/root. Reported as a figure, for the threat model.
      const { pid } = await askExecTarget(a.socket, victimA.ID);
      {
        const via = as1000(['cat', `/proc/${pid}/root/run/secrets/victim_a_pw`]);
        t.comment(`figure task-isolation.same-uid-host-user-proc-root: ${via.stdout.includes(values.get('victim_a_pw')!) ? 'READ (not closed: same uid)' : `denied (${via.stderr.trim()})`}`);
      }
    });

    await t.test('task exec does not pass the caller\'s open descriptors into the task', async (t) => {
      const [cmd, argv] = runsecretsArgv(BIN, ['task', 'exec', '--state-dir', a.stateDir, prober.ID, 'bash', '-c',
        'cat <&200; echo "fd200=$?"; for f in /proc/$$/fd/*; do echo "fd ${f##*/} $(readlink $f)"; done; echo "pids=$(ls /proc | grep -E "^[0-9]+$" | tr "\\n" " ")"; cat /run/secrets/prober_pw']);
      // The attack as filed: a file only root may read, opened by the caller's shell and left open across the exec.
      const r = spawnSync('bash', ['-c', 'exec 200</etc/shadow; exec "$@"', 'rs-caller', cmd, ...argv], { encoding: 'utf8', timeout: 60_000 });
      const shadowLine = readFileSync('/etc/shadow', 'utf8').split('\n')[0]!;
      t.notOk(r.stdout.includes(shadowLine), '/etc/shadow is not read through fd 200');
      t.not(field(r.stdout, 'fd200'), '0', 'fd 200 is closed in the command');
      t.notMatch(r.stdout, /^fd \d+ \/etc\/shadow$/m, 'no descriptor of the command names /etc/shadow');
      t.notMatch(r.stdout, /^fd 200 /m, 'the command has no fd 200');
      t.ok(Math.max(...field(r.stdout, 'pids')!.trim().split(' ').map(Number)) < 100, "the command runs in the task's PID namespace");
      t.ok(r.stdout.includes(values.get('prober_pw')!), `the legitimate exec still reads the task's secret (code ${r.status}, ${r.stderr})`);
      t.equal(r.status, 0);
    });

    await t.test('file targets with "..", "." or empty parts are refused at the API with the reason', async (t) => {
      for (const target of ['../../etc/passwd', '..', 'a/../../x', 'a//b', './a', '/etc/../x', 'a/']) {
        const spec = serviceSpec(`bad-${randomBytes(3).toString('hex')}`, 'iso-a', [{ id: ids.prober, name: 'prober_pw', target }]);
        const r = await request(m.socket, 'POST', '/services/create', spec);
        t.equal(r.status, 400, `${target}: 400`);
        t.match((r.json as { message: string }).message, /^rpc error: code = InvalidArgument desc = invalid secret target ".*": (".." is not allowed in a target path|empty or "." path elements are not allowed)$/, `${target}: ${(r.json as { message: string }).message}`);
      }
      const list = await request(m.socket, 'GET', '/services');
      t.notOk((list.json as Array<{ Spec: { Name: string } }>).some((s) => s.Spec.Name.startsWith('bad-')), 'no refused service was stored');
    });

    await t.test('a target that cannot be placed fails the task with the reason in service ps', async (t) => {
      await createService(m, serviceSpec('unplaceable', 'iso-a', [{ id: ids.prober, name: 'prober_pw', target: '/no/such/folder/key' }]));
      const task = await waitFor(async () => (await tasksOf(m, 'unplaceable')).find((x) => x.Status.State === 'rejected' || x.Status.State === 'failed'), 'the task to be refused', 30_000);
      t.equal(task.Status.Err, 'invalid mount target "/no/such/folder/key": parent folder "/no/such/folder" does not exist');
      const ps = await m.cli(['service', 'ps', '--no-trunc', 'unplaceable']);
      t.match(ps.stdout, /parent folder "\/no\/such\/folder" does not exist/, 'service ps shows the reason');
      t.notOk((await tasksOf(m, 'unplaceable')).some((x) => x.Status.State === 'running'), 'never running without its file');
    });
  });
}
