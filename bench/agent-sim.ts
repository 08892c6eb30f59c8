// Simulated agents against a real manager: each joins with the real token (its own key and certificate), keeps a
// real session (mutual TLS, the real frames), heartbeats at the manager's period and reports every task it is given
// as an agent does (preparing, ready, starting, running), with no FUSE and no process. Drives the manager at sizes
// one machine's real agents cannot reach (issue 13 item 4). Measures:
//  - converge: from the create of a SIM_TASKS-replica service (with a secret) until every task was reported running;
//  - grant / revoke p50/p99: `service update --secret-add/--secret-rm` on a 1-replica service until its node got the
//    assignment naming the secret (and its bytes) / without it, over SIM_TRIALS trials;
//  - heartbeat answer p50/p99 over every heartbeat of every node during the converge;
//  - the manager's CPU seconds and RSS growth per 1,000 tasks over the converge.
// Run: node dist/bench/agent-sim.js   (root: the manager's socket; SIM_NODES=1000 SIM_TASKS=10000 by default)
import WebSocket, { type ClientOptions } from 'ws';
import type { ConnectionOptions } from 'node:tls';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { joinCluster, type NodeIdentity } from '../agent/session/join.js';
import { createLogger } from '../shared/log.js';
import { encodeAgentFrame, parseManagerMessage, type ManagerMessage } from '../shared/protocol.js';
import { api, call, cleanupAll, createSecret, pct, rssKiB, serviceSpec, startCluster, ROOT } from './lib/cluster.js';

const NODES = Number(process.env.SIM_NODES ?? 1000);
const TASKS = Number(process.env.SIM_TASKS ?? 10_000);
const TRIALS = Number(process.env.SIM_TRIALS ?? 50);
const JOIN_CONCURRENCY = 8;
const STATES = ['preparing', 'ready', 'starting', 'running'] as const;

/** One simulated agent. */
class SimNode {
  readonly tasks = new Set<string>();
  /** Task ID -> the secret IDs its latest assignment names. */
  readonly secretsOf = new Map<string, Set<string>>();
  private ws!: WebSocket;
  private hbSentAt: bigint | null = null;
  private beat: NodeJS.Timeout | null = null;
  private waiters: Array<() => void> = [];

  constructor(readonly id: NodeIdentity, private readonly port: number, private readonly sim: Sim) {}

  async connect(): Promise<void> {
    const tlsOpts: ConnectionOptions = { cert: this.id.certPem, key: this.id.keyPem, ca: [this.id.caPem], checkServerIdentity: () => undefined };
    this.ws = new WebSocket(`wss://127.0.0.1:${this.port}/runsecrets/session`, { ...(tlsOpts as unknown as ClientOptions), perMessageDeflate: false });
    this.ws.on('message', (data: Buffer) => this.onMessage(parseManagerMessage(data).msg));
    this.ws.on('close', (code) => {
      if (!this.sim.stopping) this.sim.drops.push(`${this.id.nodeId} ${code}`);
    });
    this.ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  /** Resolves at the next assignment frame that makes pred true. */
  until(pred: () => boolean): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (pred()) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  close(): void {
    if (this.beat) clearInterval(this.beat);
    this.ws.terminate();
  }

  private send(m: Parameters<typeof encodeAgentFrame>[0]): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeAgentFrame(m));
  }

  private onMessage(msg: ManagerMessage): void {
    if (msg.type === 'welcome') {
      // Spread over the period, as real agents that started at different times are.
      const every = msg.heartbeatMs;
      setTimeout(() => {
        this.beat = setInterval(() => {
          this.hbSentAt = process.hrtime.bigint();
          this.send({ type: 'heartbeat' });
        }, every);
      }, Math.random() * every).unref();
    } else if (msg.type === 'heartbeat-ack') {
      if (this.hbSentAt !== null) this.sim.heartbeatMs.push(Number(process.hrtime.bigint() - this.hbSentAt) / 1e6);
      this.hbSentAt = null;
    } else if (msg.type === 'assign') {
      if (msg.full) this.tasks.clear();
      for (const id of msg.removeTasks) {
        this.tasks.delete(id);
        this.secretsOf.delete(id);
      }
      for (const a of msg.tasks) {
        this.secretsOf.set(a.id, new Set(a.files.filter((f) => f.kind === 'secret').map((f) => f.id)));
        if (this.tasks.has(a.id)) continue;
        this.tasks.add(a.id);
        for (const state of STATES) this.send({ type: 'status', taskId: a.id, state });
        this.sim.running++;
      }
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
  }
}

class Sim {
  running = 0;
  stopping = false;
  readonly heartbeatMs: number[] = [];
  readonly drops: string[] = [];
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (USER_HZ 100)
}

const s3 = (xs: number[]) => ({ p50: +pct(xs, 50).toFixed(1), p99: +pct(xs, 99).toFixed(1), max: +Math.max(...xs).toFixed(1) });

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (the manager socket)');
  const sim = new Sim();
  const c = await startCluster(0);
  const mpid = c.manager.proc.pid!;
  const dir = mkdtempSync(join(tmpdir(), 'rs-sim-'));
  const log = createLogger('sim', 'silent');
  const nodes: SimNode[] = [];
  try {
    const t0 = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: JOIN_CONCURRENCY }, async () => {
      while (next < NODES) {
        const i = ++next;
        const id = await joinCluster({ manager: { host: '127.0.0.1', port: c.port }, token: c.token, stateDir: join(dir, `n${i}`), hostname: `sim${i}`, labels: {}, log });
        const n = new SimNode(id, c.port, sim);
        await n.connect();
        nodes.push(n);
      }
    }));
    console.error(`# ${NODES} simulated nodes joined and connected in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // Grant / revoke on a 1-replica service, before the load.
    const secret = await createSecret(c.socket, 'sim_secret', 'value-of-the-sim-secret');
    const svc = await api<{ ID: string }>(c.socket, 'POST', '/services/create', serviceSpec('measured', 1, []));
    const owner = await waitNode(nodes, () => nodes.find((n) => n.tasks.size > 0));
    const taskId = [...owner.tasks][0]!;
    const grant: number[] = [];
    const revoke: number[] = [];
    for (let i = 0; i < TRIALS; i++) {
      for (const add of [true, false]) {
        const cur = await api<{ Version: { Index: number }; Spec: { TaskTemplate: { ContainerSpec: { Secrets?: unknown[] } } } }>(c.socket, 'GET', `/services/${svc.ID}`);
        const spec = structuredClone(cur.Spec);
        spec.TaskTemplate.ContainerSpec.Secrets = add ? [{ SecretID: secret, SecretName: 'sim_secret', File: { Name: 'x', UID: '0', GID: '0', Mode: 0o444 } }] : [];
        const t = process.hrtime.bigint();
        const r = call(c.socket, 'POST', `/services/${svc.ID}/update?version=${cur.Version.Index}`, spec);
        await owner.until(() => (owner.secretsOf.get(taskId)?.has(secret) ?? false) === add);
        (add ? grant : revoke).push(Number(process.hrtime.bigint() - t) / 1e6);
        if ((await r).status !== 200) throw new Error('service update failed');
      }
    }

    // The load: one service of TASKS replicas with a secret.
    const cpu0 = cpuSeconds(mpid);
    const rss0 = rssKiB(mpid);
    sim.heartbeatMs.length = 0;
    const before = sim.running;
    const tc = Date.now();
    await api(c.socket, 'POST', '/services/create', serviceSpec('load', TASKS, [{ id: secret, name: 'sim_secret', target: 'load' }]));
    let lastLog = Date.now();
    while (sim.running - before < TASKS) {
      await new Promise((r) => setTimeout(r, 200));
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        console.error(`# ${sim.running - before}/${TASKS} tasks reported running after ${((Date.now() - tc) / 1000).toFixed(0)} s`);
      }
      if (Date.now() - tc > Number(process.env.SIM_TIMEOUT_MS ?? 900_000)) throw new Error(`not converged: ${sim.running - before}/${TASKS}`);
    }
    // Converged once the manager has recorded them all (the reports are in flight until then).
    const filter = encodeURIComponent(JSON.stringify({ 'desired-state': ['running'] }));
    for (;;) {
      const all = await api<Array<{ Status: { State: string } }>>(c.socket, 'GET', `/tasks?filters=${filter}`);
      if (all.filter((x) => x.Status.State === 'running').length >= TASKS + 1) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const convergeS = (Date.now() - tc) / 1000;
    const cpu = cpuSeconds(mpid) - cpu0;
    const rss = rssKiB(mpid) - rss0;
    const result = {
      nodes: NODES, tasks: TASKS, trials: TRIALS, joinS: +((tc - t0) / 1000).toFixed(1), convergeS: +convergeS.toFixed(1),
      grantMs: s3(grant), revokeMs: s3(revoke), heartbeatAnswerMs: s3(sim.heartbeatMs), heartbeats: sim.heartbeatMs.length,
      managerCpuSecondsPer1000Tasks: +((cpu * 1000) / TASKS).toFixed(2), managerRssMiBPer1000Tasks: +((rss / 1024) * (1000 / TASKS)).toFixed(1),
      managerRssMiB: +(rssKiB(mpid) / 1024).toFixed(1), sessionDrops: sim.drops.length,
    };
    console.log(`\n## Simulated agents (real manager, real protocol and TLS; ${NODES} nodes, ${TASKS} tasks)\n`);
    console.log('| converge | grant p50 / p99 ms | revoke p50 / p99 ms | heartbeat answer p50 / p99 ms | manager CPU s / 1,000 tasks | manager RSS / 1,000 tasks | sessions dropped |');
    console.log('|---|---|---|---|---|---|---|');
    console.log(`| ${result.convergeS} s | ${result.grantMs.p50} / ${result.grantMs.p99} | ${result.revokeMs.p50} / ${result.revokeMs.p99} | ${result.heartbeatAnswerMs.p50} / ${result.heartbeatAnswerMs.p99} | ${result.managerCpuSecondsPer1000Tasks} | +${result.managerRssMiBPer1000Tasks} MiB (${result.managerRssMiB} MiB in all) | ${result.sessionDrops} |`);
    mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/out/agent-sim-results.json'), JSON.stringify(result, null, 2));
  } finally {
    sim.stopping = true;
    for (const n of nodes) n.close();
    await cleanupAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitNode(nodes: SimNode[], f: () => SimNode | undefined): Promise<SimNode> {
  for (let i = 0; i < 600; i++) {
    const n = f();
    if (n) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no node got the measured task (${nodes.length} nodes)`);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`${sig}: cleaning up`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

main().catch(async (err) => {
  console.error(err);
  await cleanupAll();
  process.exit(1);
});
