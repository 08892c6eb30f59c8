// Crash safety of the agent (issue 5): kill -9 a manager-connected agent with running tasks (2 services, 5
// replicas, each task reading its secret in a loop), with a reader of our own on the mount too. Then: the mount is
// gone within a few seconds (the watchdog), no process is stuck in D state, and once the agent is started again on
// the same state dir, within a bounded time what the manager's /tasks says runs on this node is exactly what runs
// there (one process per task, no more), each such task reads its secret, and no task process of the agent's
// previous life is left (orphans on a dead mount would be duplicates).
// Processes are told apart without the agent's help: a task's process shows its task ID as the root of the FUSE
// mount bound at /run/secrets in its mount namespace (/proc/PID/mountinfo).
import { TASK_NS_ID } from '../helpers/task-ns.js';
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fuseSkipReason } from '../helpers/env.js';
import { startManager, request, type ManagerHandle } from '../helpers/manager.js';
import { managedAgent } from '../helpers/managed-agent.js';
import { waitFor } from '../helpers/wait.js';
import { forceUnmount, isMounted, startAgent, tempDirs, type AgentProc } from '../helpers/agent.js';
import { writeFileSync } from 'node:fs';

const MOUNT_GONE_BOUND_MS = 5_000;
const IN_LINE_BOUND_MS = 45_000;
const D_WATCH_MS = 2_000;

interface TaskJson {
  ID: string;
  ServiceID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

interface Proc {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  cmdline: string;
}

function proc(pid: number): Proc | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return { pid, state: f[0] ?? '', ppid: Number(f[1]), pgrp: Number(f[2]), cmdline };
  } catch {
    return null;
  }
}

function allProcs(): Proc[] {
  const out: Proc[] = [];
  for (const n of readdirSync('/proc')) if (/^\d+$/.test(n)) {
    const p = proc(Number(n));
    if (p) out.push(p);
  }
  return out;
}

/** The task ID a process serves: the root of the runsecrets FUSE mount at /run/secrets in its namespace. */
function taskIdOf(pid: number): string | null {
  try {
    for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
      const [left, right] = line.split(' - ');
      if (!left || !right || !right.startsWith('fuse.runsecrets ')) continue;
      const f = left.split(' ');
      if (f[4] === '/run/secrets') return (f[3] ?? '').replace(/^\//, '');
    }
  } catch {
    /* gone */
  }
  return null;
}

/** Does this process's mount namespace know anything under dir (our mount, or a bind from it)? */
function seesDir(pid: number, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/mountinfo`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}

/** Alive: exists and is not a zombie (a killed orphan is a zombie until its new parent reaps it). */
const alive = (pid: number): boolean => {
  const p = proc(pid);
  return p !== null && p.state !== 'Z';
};

const readText = (p: string): string | null => {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return null;
  }
};

const skip = fuseSkipReason();
if (skip) {
  t.comment(`SKIP agent crash: ${skip}`);
  t.test('the whole file', { skip }, () => undefined);
} else {
  t.test('kill -9 of an agent with running tasks: mount gone, nothing stuck, back in line after its restart', async (t) => {
    const marker = `rs-agent-crash-${process.pid}-${Date.now()}`;
    const out = mkdtempSync(join(tmpdir(), 'rs-acrash-out-'));
    chmodSync(out, 0o777);
    const m: ManagerHandle = await startManager({ t });
    const a = managedAgent({ managerPort: m.tcpPort, hostname: `crash-${process.pid}` });
    let reader: ChildProcess | null = null;
    const killMarked = (): void => {
      for (const p of allProcs()) if (p.cmdline.includes(marker)) {
        try {
          process.kill(-p.pgrp, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    };
    t.teardown(async () => {
      reader?.kill('SIGKILL');
      await a.cleanup();
      killMarked(); // whatever the outcome, no task process of ours outlives the test
      forceUnmount(a.mount);
      for (const d of [a.dir, out]) rmSync(d, { recursive: true, force: true });
    });
    await a.start(m.workerToken);
    const nodes = (await request(m.socket, 'GET', '/nodes')).json as { ID: string; Description: { Hostname: string } }[];
    const nodeId = nodes.find((n) => n.Description.Hostname === a.hostname)!.ID;

    const secrets: Record<string, { id: string; value: string }> = {};
    for (const [name, value] of [['crash-a', 'value-of-a'], ['crash-b', 'value-of-b']] as const) {
      const r = await request(m.socket, 'POST', '/secrets/create', { Name: name, Data: Buffer.from(value).toString('base64') });
      t.equal(r.status, 201, `secret ${name} created`);
      secrets[name] = { id: (r.json as { ID: string }).ID, value };
    }
    // Each task: over and over, its secret into OUT/<id>.v (replaced atomically) and a line into OUT/<id>.log, where
    // id is the task's PID namespace inode ($$ inside a task is a small number every task shares).
    const script = (name: string): string =>
      `: ${marker}; ${TASK_NS_ID}; while :; do if cat /run/secrets/${name} > ${out}/$i.tmp 2>/dev/null; then mv ${out}/$i.tmp ${out}/$i.v; ` +
      `echo ok >> ${out}/$i.log; else echo FAIL >> ${out}/$i.log; fi; sleep 0.1; done`;
    /** The PID namespace a task process made for its task (the outermost marked process is the one that made it). */
    const nsIdOf = (pid: number): string => {
      try {
        return readlinkSync(`/proc/${pid}/ns/pid_for_children`).replace(/\D/g, '');
      } catch {
        return 'gone';
      }
    };
    const serviceOf = new Map<string, string>(); // service ID -> secret name
    for (const [svc, name, replicas] of [['crash-web', 'crash-a', 3], ['crash-db', 'crash-b', 2]] as const) {
      const r = await request(m.socket, 'POST', '/services/create', {
        Name: svc,
        TaskTemplate: {
          ContainerSpec: {
            Image: 'none',
            Command: ['/bin/sh', '-c', script(name)],
            StopGracePeriod: 1_000_000_000,
            Secrets: [{ SecretID: secrets[name]!.id, SecretName: name, File: { Name: name, UID: '0', GID: '0', Mode: 0o444 } }],
          },
          RestartPolicy: { Condition: 'any', Delay: 200_000_000 },
          Placement: { Constraints: [`node.hostname==${a.hostname}`] },
        },
        Mode: { Replicated: { Replicas: replicas } },
      });
      t.equal(r.status, 201, `service ${svc} created`);
      serviceOf.set((r.json as { ID: string }).ID, name);
    }

    const managerRunning = async (): Promise<TaskJson[]> => {
      const r = await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ node: [nodeId] }))}`);
      return (r.json as TaskJson[]).filter((x) => x.DesiredState === 'running' && x.Status.State === 'running');
    };
    // A task's shell forks before each command it runs, and the fork shows the same command line until its exec:
    // a task process is a marked one whose parent is not marked.
    const taskProcs = (): Array<{ pid: number; task: string | null }> => {
      const marked = allProcs().filter((p) => p.cmdline.includes(marker) && p.state !== 'Z');
      const pids = new Set(marked.map((p) => p.pid));
      return marked.filter((p) => !pids.has(p.ppid)).map((p) => ({ pid: p.pid, task: taskIdOf(p.pid) }));
    };

    /** In line: the manager's running tasks here are exactly the task processes here, one each, each reading its
     * secret since `since`. Returns a description of the difference, or null when in line. */
    const difference = async (since: number): Promise<string | null> => {
      const want = await managerRunning();
      const procs = taskProcs();
      if (want.length !== procs.length) return `${want.length} running per the manager, ${procs.length} task processes`;
      const seen = new Set<string>();
      for (const p of procs) {
        const task = want.find((w) => w.ID === p.task);
        if (!task) return `process ${p.pid} serves ${p.task ?? 'no task'}, not running here per the manager`;
        if (seen.has(task.ID)) return `two processes for task ${task.ID}`;
        seen.add(task.ID);
        const name = serviceOf.get(task.ServiceID)!;
        let fresh = false;
        try {
          fresh = statSync(join(out, `${nsIdOf(p.pid)}.v`)).mtimeMs >= since;
        } catch {
          /* not yet */
        }
        if (!fresh || readText(join(out, `${nsIdOf(p.pid)}.v`)) !== secrets[name]!.value) return `task ${task.ID} (pid ${p.pid}) has not read its secret yet`;
      }
      return null;
    };

    let last: string | null = 'not checked';
    await waitFor('the 5 tasks running and reading', async () => (last = await difference(0)) === null && (await managerRunning()).length === 5, { timeoutMs: 30_000 })
      .catch((err: Error) => {
        throw new Error(`${err.message} (${last ?? ''})`);
      });
    const before = taskProcs();
    const tasksBefore = (await managerRunning()).map((x) => x.ID).sort();
    t.equal(before.length, 5, '5 task processes before the kill');

    // A reader of our own on the mount, in the host's namespace.
    const oneTask = tasksBefore[0]!;
    const someFile = readdirSync(join(a.mount, oneTask))[0]!;
    reader = spawn('/bin/sh', ['-c', `: rsreader-${process.pid}; while :; do cat ${join(a.mount, oneTask, someFile)} > /dev/null 2>&1; sleep 0.01; done`], { stdio: 'ignore' });
    const recordFile = join(a.stateDir, 'tasks.pids.json');
    t.equal(statSync(recordFile).mode & 0o777, 0o600, 'the task records file is 0600');
    t.notOk(readFileSync(recordFile, 'utf8').includes(secrets['crash-a']!.value), 'the task records hold no secret');

    // The kill.
    const killedAt = Date.now();
    await a.stop('SIGKILL');
    const mountedHere = (): boolean => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === a.mount);
    await waitFor('the mount to be gone', () => !mountedHere(), { timeoutMs: MOUNT_GONE_BOUND_MS + 10_000 });
    const mountGoneMs = Date.now() - killedAt;
    t.ok(mountGoneMs <= MOUNT_GONE_BOUND_MS, `the mount is gone ${mountGoneMs} ms after the kill (bound ${MOUNT_GONE_BOUND_MS} ms)`);

    // D state: every process that touches our mount (the tasks, their launchers, our reader, anything whose mount
    // namespace holds a bind from it), sampled over a while: stuck = in D at every sample.
    const related = (): number[] =>
      allProcs().filter((p) => p.cmdline.includes(marker) || p.pid === reader?.pid || seesDir(p.pid, a.dir)).map((p) => p.pid);
    const dCount = new Map<number, number>();
    let samples = 0;
    let maxD = 0;
    const watchEnd = Date.now() + D_WATCH_MS;
    while (Date.now() < watchEnd) {
      samples++;
      let nowD = 0;
      for (const pid of related()) {
        if (proc(pid)?.state === 'D') {
          nowD++;
          dCount.set(pid, (dCount.get(pid) ?? 0) + 1);
        }
      }
      maxD = Math.max(maxD, nowD);
      await new Promise((r) => setTimeout(r, 100));
    }
    const stuck = [...dCount].filter(([, n]) => n === samples).map(([pid]) => pid);
    const orphansBefore = before.filter((b) => alive(b.pid)).length;
    t.comment(`task processes of the killed agent still alive before its restart: ${orphansBefore} of ${before.length}`);
    t.same(stuck, [], 'no process stuck in D state');
    t.ok(alive(reader.pid!) && !stuck.includes(reader.pid!), `our reader on the mount is alive and not stuck (${String(dCount.get(reader.pid!) ?? 0)} of ${samples} samples in D)`);

    // The restart on the same state dir.
    const restartAt = Date.now();
    await a.start();
    let why: string | null = 'not checked';
    await waitFor('the tasks to be back in line with the manager', async () => (why = await difference(restartAt)) === null && (await managerRunning()).length === 5, {
      timeoutMs: IN_LINE_BOUND_MS,
      intervalMs: 100,
    }).catch((err: Error) => {
      t.fail(`${err.message} (${why ?? ''})`);
    });
    const inLineMs = Date.now() - restartAt;
    const after = taskProcs();
    const tasksAfter = (await managerRunning()).map((x) => x.ID).sort();
    const orphans = before.filter((b) => alive(b.pid));
    t.equal(why, null, `back in line ${inLineMs} ms after the restart (bound ${IN_LINE_BOUND_MS} ms)`);
    t.equal(orphans.length, 0, 'no task process of the previous life is left');
    t.equal(after.length, 5, '5 task processes after the restart');
    // What the manager made of the tasks that died with the agent: each ended (failed, or shut down when its node
    // was seen down first) and was replaced, none still counts as running.
    const all = (await request(m.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ node: [nodeId] }))}`)).json as TaskJson[];
    for (const id of tasksBefore) {
      const x = all.find((y) => y.ID === id);
      t.ok(!x || (x.Status.State !== 'running' && x.DesiredState !== 'running') || tasksAfter.includes(id), `task ${id} of the previous life: ${x ? `${x.Status.State}${x.Status.Err ? ` (${x.Status.Err})` : ''}` : 'gone'}`);
    }
    const logLines = a.logs().filter((l) => l.msg === 'killed the task processes left by the previous agent');
    t.comment(`agent after restart: ${JSON.stringify(logLines[0] ?? 'no previous-life processes killed')}`);

    t.comment(`figure agent-crash.tasks: ${before.length} task processes before the kill, ${after.length} after the restart (manager: ${tasksBefore.length} running before, ${tasksAfter.length} after)`);
    t.comment(`figure agent-crash.mount-gone: the mount was gone ${mountGoneMs} ms after the kill -9`);
    t.comment(`figure agent-crash.d-state: ${stuck.length} processes stuck in D state (${samples} samples over ${D_WATCH_MS} ms; at most ${maxD} in D at one sample)`);
    t.comment(`figure agent-crash.orphans: ${orphans.length} task processes of the previous life left (${orphansBefore} alive until the restart)`);
    t.comment(`figure agent-crash.in-line: tasks and files back in line with the manager ${inLineMs} ms after the restart`);
    reader.kill('SIGKILL');
    killMarked();
  });

  // The known hang: after our unmount, a mount namespace of another process (a task launcher of a dead task, a
  // container) still holds the mount, so the FUSE connection lives on and the agent's own reads on /dev/fuse (and
  // with them its exit) waited. The agent aborts its connection on stop (fusectl), so the stop is bounded.
  t.test('SIGTERM while another mount namespace holds the mount: the agent exits, nothing waits', async (t) => {
    const d = tempDirs('rs-acrash-ns-');
    writeFileSync(join(d.tasksDir, 's.txt'), 'ns-secret');
    writeFileSync(join(d.tasksDir, 'web.yaml'), 'secrets:\n  - { file: ./s.txt, target: s }\n');
    let agent: AgentProc | undefined;
    let holder: ChildProcess | undefined;
    t.teardown(async () => {
      holder?.kill('SIGKILL');
      await agent?.stop('SIGKILL');
      forceUnmount(d.mount);
      rmSync(d.dir, { recursive: true, force: true });
    });
    agent = await startAgent(d);
    await waitFor('the task file', () => readText(join(d.mount, 'web/s')) === 'ns-secret', { timeoutMs: 10_000 });
    // A process in its own mount namespace (a copy of ours, with the agent's mount in it) that reads the file in a
    // loop: it keeps the mount alive there after the agent unmounts it here.
    holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `while :; do cat ${join(d.mount, 'web/s')} >/dev/null 2>&1; sleep 0.05; done`], { stdio: 'ignore' });
    // In its own namespace (until unshare has run, the process is still in ours) and seeing the mount there.
    const ownNs = readlinkSync('/proc/self/ns/mnt');
    const nsOf = (pid: number): string | null => {
      try {
        return readlinkSync(`/proc/${pid}/ns/mnt`);
      } catch {
        return null;
      }
    };
    await waitFor('the holder in its namespace', () => holder?.pid !== undefined && nsOf(holder.pid) !== ownNs && nsOf(holder.pid) !== null && seesDir(holder.pid, d.mount), { timeoutMs: 5_000 });
    const t0 = Date.now();
    const code = await Promise.race([agent.stop('SIGTERM'), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
    const took = Date.now() - t0;
    t.equal(code, 0, `the agent exited 0 in ${took} ms with the mount held elsewhere (bound 15000 ms)`);
    t.notOk(isMounted(d.mount), 'no mount left here');
    const holderPid = holder.pid!;
    await waitFor('the holder out of D state', () => alive(holderPid) && proc(holderPid)!.state !== 'D', { timeoutMs: 5_000 });
    t.pass('the holder in the other namespace is alive and not stuck in D state');
    t.comment(`figure agent-crash.stop-held: SIGTERM with the mount held by another namespace: exit ${String(code)} after ${took} ms`);
  });
}
