// manager/etcd/leader.ts with 3 real etcd members (127.0.0.1, mutual TLS) and 3 elector processes, each on its own
// member: kill -9 of the leader's elector or of the leader's etcd member, or that member paused (SIGSTOP), round
// after round; a new leader each time; never two electors calling themselves leader at once (their own reports,
// one host clock); and, from etcd's own history, never two leaders at once: every write a leader made (guarded by its election key,
// as the store's leader writes are) landed while its key was the one leading the election.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { IKeyValue, Etcd3 } from 'etcd3';
import { etcdClient } from '../../manager/etcd/client.js';
import { DEFAULT_ELECTION } from '../../manager/etcd/leader.js';
import { startEtcdCluster, type EtcdTestCluster } from '../helpers/etcd-cluster.js';
import { toolSkip } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';
import { REPO_ROOT } from '../helpers/manager.js';

const TTL_SECONDS = 2;
const ROUNDS = 9;
const KINDS = ['elector', 'etcd member', 'paused etcd member'] as const;
const PREFIX = `election/${DEFAULT_ELECTION}/`;
const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'elector.mjs');

interface Elector {
  id: string;
  proc: ChildProcess | null;
  isLeader: boolean;
  stderr: string[];
  /** Its leadership as it saw it: [from, to) in ms since the epoch (to: when it said otherwise or was killed). */
  terms: Array<{ from: number; to: number | null }>;
}

function endTerm(e: Elector, at: number): void {
  const last = e.terms[e.terms.length - 1];
  if (last && last.to === null) last.to = at;
}

function startElector(c: EtcdTestCluster, e: Elector, i: number): void {
  const m = c.members[i]!;
  const p = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, FIXTURE, e.id, m.clientUrl, m.tls.caFile, m.tls.certFile, m.tls.keyFile, String(TTL_SECONDS)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  e.proc = p;
  e.isLeader = false;
  createInterface({ input: p.stdout! }).on('line', (l) => {
    const s = JSON.parse(l) as { isLeader: boolean; at: number };
    if (e.proc !== p) return;
    if (s.isLeader && !e.isLeader) e.terms.push({ from: s.at, to: null });
    if (!s.isLeader && e.isLeader) endTerm(e, s.at);
    e.isLeader = s.isLeader;
  });
  createInterface({ input: p.stderr! }).on('line', (l) => e.stderr.length < 200 && e.stderr.push(l));
  p.once('exit', () => {
    if (e.proc === p) {
      e.proc = null;
      e.isLeader = false;
    }
  });
}

async function kill9(p: ChildProcess | null): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGKILL');
  await gone;
}

/** Kills an elector; its term (if any) ends now: a dead process leads nothing. */
async function killElector(e: Elector): Promise<void> {
  await kill9(e.proc);
  endTerm(e, Date.now());
}

/** Every event under `prefix` from revision 1 up to the put of `sentinel` (the last write under it). */
async function history(client: Etcd3, prefix: string, sentinel: string): Promise<{ type: 'put' | 'delete'; kv: IKeyValue }[]> {
  const events: { type: 'put' | 'delete'; kv: IKeyValue }[] = [];
  const w = await client.watch().prefix(prefix).startRevision('1').create();
  await new Promise<void>((resolve, reject) => {
    w.on('data', (res) => {
      for (const ev of res.events) {
        if (ev.kv.key.toString() === sentinel) return resolve();
        events.push({ type: ev.type === 'Put' ? 'put' : 'delete', kv: ev.kv });
      }
    });
    w.on('error', reject);
  });
  await w.cancel();
  return events;
}

t.test('3 members, 3 electors: kill -9 of the leader (elector or member) or its member paused, a new leader, never two', toolSkip(['etcd']), async (t) => {
  const c = await startEtcdCluster({ size: 3, t });
  const electors: Elector[] = [0, 1, 2].map((i) => ({ id: `e${i}`, proc: null, isLeader: false, stderr: [], terms: [] }));
  t.teardown(async () => {
    for (const e of electors) await kill9(e.proc);
  });
  electors.forEach((e, i) => startElector(c, e, i));
  const observer = etcdClient({ endpoints: c.endpoints, tls: c.members[0]!.tls, callTimeoutMs: 1000 });
  t.teardown(() => observer.close());
  const election = observer.election(DEFAULT_ELECTION);
  const leaderNow = async (): Promise<string | null> => (await election.leader()) ?? null;

  const first = await waitFor('a first leader', async () => {
    const l = await leaderNow();
    return l && electors.find((e) => e.id === l)?.isLeader ? l : null;
  }, { timeoutMs: 30_000 });
  t.comment(`first leader: ${first}`);

  const failover: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const old = await waitFor('the current leader', leaderNow, { timeoutMs: 30_000 });
    const i = electors.findIndex((e) => e.id === old);
    t.ok(i >= 0, `round ${round}: leader ${old} is one of ours`);
    const what = KINDS[round % KINDS.length]!;
    const t0 = Date.now();
    // A paused member (SIGSTOP) answers nothing and closes nothing: its elector must step down by its own clock.
    const memberPid = c.members[i]!.proc?.pid;
    if (what === 'elector') await killElector(electors[i]!);
    else if (what === 'etcd member') await c.kill9(i);
    else process.kill(memberPid!, 'SIGSTOP');
    const next = await waitFor(`a new leader after kill -9 of ${old}'s ${what}`, async () => {
      const l = await leaderNow();
      return l && l !== old && electors.find((e) => e.id === l)?.isLeader ? l : null;
    }, { timeoutMs: 60_000, intervalMs: 20 });
    failover.push(Date.now() - t0);
    t.not(next, old, `round ${round}: ${what === 'paused etcd member' ? 'SIGSTOP' : 'kill -9'} of ${old}'s ${what}: ${next} leads`);
    // The killed part comes back; its elector campaigns again (and waits its turn).
    if (what === 'elector') startElector(c, electors[i]!, i);
    else if (what === 'paused etcd member') {
      await waitFor(`${old} stepping down by itself`, () => !electors[i]!.isLeader, { timeoutMs: 30_000 });
      process.kill(memberPid!, 'SIGCONT');
      await c.waitHealthy(i);
    } else {
      await c.restart(i);
      await c.waitHealthy(i);
    }
    await waitFor(`${electors[i]!.id} campaigning again`, async () => {
      const res = await observer.namespace(PREFIX).getAll().strings();
      return Object.values(res).includes(electors[i]!.id);
    }, { timeoutMs: 60_000, intervalMs: 50 });
  }
  const sorted = [...failover].sort((a, b) => a - b);
  t.comment(`failover (kill -9 / SIGSTOP until another elector leads, seen by etcd and by itself; kinds in turn: ${KINDS.join(', ')}), ms, TTL ${TTL_SECONDS} s: ${failover.join(' ')}; p50 ${sorted[Math.floor(sorted.length / 2)]} max ${sorted[sorted.length - 1]}`);

  // The electors' own view: no two terms overlap (the same host clock for all of them).
  const terms = electors.flatMap((e) => e.terms.map((x) => ({ id: e.id, from: x.from, to: x.to ?? Number.MAX_SAFE_INTEGER }))).sort((a, b) => a.from - b.from);
  const overlaps: string[] = [];
  for (let k = 1; k < terms.length; k++) {
    const prev = terms[k - 1]!;
    const cur = terms[k]!;
    if (cur.from < prev.to) overlaps.push(`${prev.id} led until ${prev.to}, ${cur.id} from ${cur.from}`);
  }
  t.ok(terms.length > ROUNDS, `${terms.length} terms of leadership as the electors saw them`);
  t.same(overlaps, [], 'no two electors called themselves leader at the same time');

  // Stop writing, then replay etcd's history of the election keys and of the leaders' writes.
  for (const e of electors) {
    const p = e.proc;
    if (p) {
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      await gone;
    }
  }
  await observer.put(`${PREFIX}~end`).value('');
  await observer.put('test/leader-writes~end').value('');
  const events = [...(await history(observer, PREFIX, `${PREFIX}~end`)), ...(await history(observer, 'test/leader-writes', 'test/leader-writes~end'))].sort((a, b) =>
    BigInt(a.kv.mod_revision) < BigInt(b.kv.mod_revision) ? -1 : 1,
  );
  const live = new Map<string, bigint>(); // election key -> create revision
  let writes = 0;
  const writers = new Set<string>();
  const violations: string[] = [];
  for (const ev of events) {
    const key = ev.kv.key.toString();
    if (key.startsWith(PREFIX)) {
      if (ev.type === 'delete') live.delete(key);
      else if (!live.has(key)) live.set(key, BigInt(ev.kv.create_revision));
      continue;
    }
    if (ev.type !== 'put') continue;
    const w = JSON.parse(ev.kv.value.toString()) as { id: string; key: string };
    let leading: string | null = null;
    let lowest: bigint | null = null;
    for (const [k, rev] of live) if (lowest === null || rev < lowest) [leading, lowest] = [k, rev];
    writes++;
    writers.add(w.id);
    if (leading !== w.key && violations.length < 10) violations.push(`revision ${String(ev.kv.mod_revision)}: ${w.id} wrote with key ${w.key} while ${leading ?? 'no key'} led`);
  }
  t.comment(`${writes} leader writes by ${[...writers].sort().join(', ')} over ${events.length} events`);
  t.ok(writes > 0 && writers.size >= 2, 'leaders wrote, more than one of them over the rounds');
  t.same(violations, [], 'every leader write landed while its writer led the election (etcd history)');
  if (violations.length > 0) for (const e of electors) t.comment(`${e.id} stderr: ${e.stderr.slice(-20).join('\n')}`);
});
