// Task start time for a cached image, side by side: the OCI runtime (runc containers) against the process runtime, on
// one real manager and two real agents on this machine (agent h1 runs containers, h2 processes). Each service
// (constrained to its agent, one secret granted) is warmed with one task (the image pulled and unpacked once), then
// scaled +1 at a time, BENCH_STARTS (default 50) times, each start measured from the `service scale` API call
// (POST /services/{id}/update with Replicas + 1) until:
//   running   the new task is Running in GET /tasks (polled every 5 ms);
//   readable  its secret reads inside it: /proc/PID/root/run/secrets/bench_secret, PID from the container's inspect
//             through the manager (the same container route `docker inspect` uses).
// Needs root and a registry with the fixture images: run through scripts/images/with-registry.sh (bench/run.sh does).
//   node dist/bench/container-start-bench.js
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerIdOf } from '../shared/container-id.js';
import { api, call, cleanupAll, createSecret, pct, procs, ROOT, sleepMs, startCluster, type Cluster } from './lib/cluster.js';

const STARTS = Number(process.env.BENCH_STARTS ?? 50);
const TARGET = 'bench_secret';
const TARGET_MS = { p50: 300, p99: 1000 };

interface TaskJson {
  ID: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

interface Starts {
  running: number[];
  readable: number[];
}

function spec(name: string, replicas: number, host: string, image: string, command: string[] | undefined, secret: { id: string; name: string }): Record<string, unknown> {
  const container: Record<string, unknown> = {
    Image: image,
    StopGracePeriod: 1_000_000_000,
    Secrets: [{ SecretID: secret.id, SecretName: secret.name, File: { Name: TARGET, UID: '0', GID: '0', Mode: 0o444 } }],
  };
  if (command) container.Command = command;
  return {
    Name: name,
    TaskTemplate: { ContainerSpec: container, Placement: { Constraints: [`node.hostname==${host}`] } },
    Mode: { Replicated: { Replicas: replicas } },
  };
}

async function tasks(c: Cluster, service: string): Promise<TaskJson[]> {
  return api<TaskJson[]>(c.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`);
}

/** The first running task not in `known`, polled every 5 ms; a task that fails ends the bench with its error. */
async function newRunning(c: Cluster, service: string, known: Set<string>): Promise<string> {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    for (const t of await tasks(c, service)) {
      if (known.has(t.ID) || t.DesiredState !== 'running') continue;
      if (t.Status.State === 'running') return t.ID;
      if (['failed', 'rejected'].includes(t.Status.State)) throw new Error(`task ${t.ID} of ${service}: ${t.Status.State} ${t.Status.Err ?? ''}`);
    }
    await sleepMs(5);
  }
  throw new Error(`no new running task of ${service} within 60 s`);
}

async function untilReadable(c: Cluster, taskId: string): Promise<void> {
  const end = Date.now() + 30_000;
  let pid = 0;
  while (Date.now() < end) {
    if (pid === 0) {
      const r = await call(c.socket, 'GET', `/containers/${containerIdOf(taskId)}/json`);
      if (r.status === 200) pid = (r.json as { State: { Pid: number } }).State.Pid;
    }
    if (pid > 0) {
      try {
        readFileSync(`/proc/${pid}/root/run/secrets/${TARGET}`);
        return;
      } catch {
        /* not yet */
      }
    }
    await sleepMs(2);
  }
  throw new Error(`the secret of task ${taskId} never became readable inside it`);
}

async function measure(c: Cluster, name: string, host: string, image: string, command: string[] | undefined, secret: { id: string; name: string }): Promise<Starts> {
  const id = (await api<{ ID: string }>(c.socket, 'POST', '/services/create', spec(name, 1, host, image, command, secret))).ID;
  const known = new Set<string>();
  known.add(await newRunning(c, id, known)); // the warm-up start: the image is pulled and unpacked here, once
  const out: Starts = { running: [], readable: [] };
  for (let i = 1; i <= STARTS; i++) {
    const cur = await api<{ Version: { Index: number } }>(c.socket, 'GET', `/services/${id}`);
    const t0 = process.hrtime.bigint();
    const r = await call(c.socket, 'POST', `/services/${id}/update?version=${cur.Version.Index}`, spec(name, i + 1, host, image, command, secret));
    if (r.status !== 200) throw new Error(`scale ${name} to ${i + 1}: ${r.status} ${r.text}`);
    const task = await newRunning(c, id, known);
    out.running.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await untilReadable(c, task);
    out.readable.push(Number(process.hrtime.bigint() - t0) / 1e6);
    known.add(task);
  }
  await api(c.socket, 'DELETE', `/services/${id}`);
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (FUSE mounts, runc, the manager socket)');
  const registry = process.env.RUNSECRETS_DEMO_REGISTRY;
  if (!registry) throw new Error('run through scripts/images/with-registry.sh (it serves the fixture images)');
  const mirror = ['--registry-mirror', `http://${registry}`];
  try {
    const c = await startCluster(2, { managerArgs: mirror, agentArgs: (i) => (i === 1 ? ['--runtime', 'oci', ...mirror] : ['--runtime', 'process']) });
    const secret = { id: await createSecret(c.socket, 'bench_start', 'bench'), name: 'bench_start' };
    const oci = await measure(c, 'start-oci', 'h1', `${registry}/busybox:nginx`, undefined, secret);
    const proc = await measure(c, 'start-process', 'h2', 'none', ['sleep', '1d'], secret);
    const f = (n: number): string => n.toFixed(1);
    const row = (what: string, o: number[], p: number[]): string =>
      `| ${what} | ${f(pct(o, 50))} / ${f(pct(o, 99))} | ${f(pct(p, 50))} / ${f(pct(p, 99))} | ${(pct(o, 50) / pct(p, 50)).toFixed(2)}x |`;
    console.log(`\n## Task start, cached image (${STARTS} starts each; ms from the scale API call; p50 / p99)\n`);
    console.log('| until | OCI runtime (runc) | process runtime | OCI/process p50 |');
    console.log('|---|---|---|---|');
    console.log(row('Running', oci.running, proc.running));
    console.log(row('secret readable inside', oci.readable, proc.readable));
    const met = pct(oci.readable, 50) <= TARGET_MS.p50 && pct(oci.readable, 99) <= TARGET_MS.p99;
    console.log(`\ntarget (OCI, readable): p50 ≤ ${TARGET_MS.p50} ms, p99 ≤ ${TARGET_MS.p99} ms: ${met ? 'met' : 'NOT met'}`);
    mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/out/container-start-results.json'), JSON.stringify({ starts: STARTS, oci, process: proc }, null, 2));
  } catch (err) {
    for (const p of procs.slice(0, 3)) console.error(`--- last stderr of ${p.name}:\n${p.stderr.slice(-3000)}`);
    throw err;
  } finally {
    await cleanupAll();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
