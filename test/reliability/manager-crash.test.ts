// Crash safety of the manager (issue 5): kill -9 while 16 clients create, update and remove secrets and configs
// over the Unix socket with HTTP keep-alive (as docker does), several rounds. After each restart every
// acknowledged write is there exactly (labels, version never behind, removed ones gone), nothing else exists, the
// stored bytes are intact (read with the product's own store code from a copy of the files as the kill left them,
// since the API never returns a secret's data), the SQLite file passes `PRAGMA integrity_check`, and the manager
// starts within a bounded time. Each client owns its names, so every name has at most one operation in flight:
// at the kill, that operation may have happened or not (both are fine), everything acknowledged must be there.
import t from 'tap';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isRoot, startManager, type ManagerHandle } from '../helpers/manager.js';
import { OpenCluster, FILES } from '../../manager/cluster/state.js';
import { SqliteStore } from '../../manager/store/sqlite.js';
import { fuzzSeed, rng as prng } from '../helpers/fuzz.js';

const ROUNDS = 4;
const CLIENTS = 16;
const LOAD_MS = 10_000;
const RESTART_BOUND_MS = 15_000; // the manager answers /_ping this soon after a start on a crashed store

type Kind = 'secret' | 'config';
interface ObjState {
  id: string; // '' while a create is in flight (the ID comes with the answer)
  labels: Record<string, string>;
  minVersion: number; // the stored version is at least this
  dataHash: string;
}
interface Entry {
  kind: Kind;
  name: string;
  acked: ObjState | null;
  /** The one operation in flight at the kill, with the state it would leave. */
  inflight: { op: 'create' | 'update' | 'remove'; next: ObjState | null } | null;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Resp {
  status: number;
  json: unknown;
  text: string;
}

function call(agent: http.Agent, socket: string, method: string, path: string, body?: unknown): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {};
    const req = http.request({ socketPath: socket, method, path: `/v1.41${path}`, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

interface DockerObj {
  ID: string;
  Version: { Index: number };
  Spec: { Name: string; Labels: Record<string, string> | null; Data?: string };
}

const sameLabels = (a: Record<string, string> | null | undefined, b: Record<string, string>): boolean =>
  JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b).sort());

if (!isRoot()) {
  t.comment('SKIP manager crash: needs root (the manager socket and state files are root-only)');
  t.test('the whole file', { skip: 'needs root' }, () => undefined);
} else {
  t.test('kill -9 under 16 writing clients: acknowledged writes survive, nothing half-written', async (t) => {
    const seed = fuzzSeed();
    t.comment(`seed manager-crash: ${seed} (replay: RS_SEED=${seed})`);
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

    const m: ManagerHandle = await startManager({ t, logLevel: 'warn', tcp: false });
    const work = mkdtempSync(join(tmpdir(), 'rs-mcrash-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));

    const entries = new Map<string, Entry>(); // `${kind}/${name}`
    const data = new Map<string, Buffer>(); // dataHash -> bytes (the model keeps what each create sent)
    let counter = 0;
    const totals = { creates: 0, updates: 0, removes: 0, inflight: 0, lost: 0, wrong: 0, unexpected: 0 };
    const restartMs: number[] = [];
    let bytesChecked = 0; // objects whose stored bytes were compared with what their create sent
    const problems: string[] = [];
    const wrong = (what: string): void => {
      totals.wrong++;
      if (problems.length < 20) problems.push(what);
    };

    const randomSize = (kind: Kind): number => {
      const r = rnd();
      if (r < 0.7) return 1 + Math.floor(rnd() * 256);
      if (r < 0.95) return 1 + Math.floor(rnd() * 16 * 1024);
      return 1 + Math.floor(rnd() * (kind === 'secret' ? 400 * 1024 : 200 * 1024));
    };
    const randomBytesSeeded = (n: number): Buffer => {
      const b = Buffer.alloc(n);
      let x = (Math.floor(rnd() * 2 ** 32) | 1) >>> 0;
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        b[i] = x & 255;
      }
      return b;
    };
    const randomLabels = (): Record<string, string> => {
      const out: Record<string, string> = {};
      const n = Math.floor(rnd() * 4);
      for (let i = 0; i < n; i++) out[`k${Math.floor(rnd() * 5)}`] = `v${++counter}`;
      return out;
    };

    /** One client: picks operations on its own names until the manager dies. */
    async function client(c: number, agent: http.Agent, dead: () => boolean): Promise<void> {
      // Random names (seeded), with the client's prefix so that no two clients share one.
      const names = Array.from({ length: 12 }, () => `c${c}-${Math.floor(rnd() * 36 ** 6).toString(36)}`);
      while (!dead()) {
        const kind: Kind = rnd() < 0.8 ? 'secret' : 'config';
        const name = pick(names);
        const key = `${kind}/${name}`;
        let e = entries.get(key);
        if (!e) entries.set(key, (e = { kind, name, acked: null, inflight: null }));
        const base = `/${kind}s`;
        try {
          if (!e.acked) {
            const bytes = randomBytesSeeded(randomSize(kind));
            const h = sha(bytes);
            data.set(h, bytes);
            const labels = randomLabels();
            e.inflight = { op: 'create', next: { id: '', labels, minVersion: 0, dataHash: h } };
            const r = await call(agent, m.socket, 'POST', `${base}/create`, { Name: name, Labels: labels, Data: bytes.toString('base64') });
            if (r.status !== 201) throw new Error(`create ${key}: ${r.status} ${r.text}`);
            e.acked = { ...e.inflight.next!, id: (r.json as { ID: string }).ID };
            e.inflight = null;
            totals.creates++;
          } else if (rnd() < 0.7) {
            const cur = e.acked;
            const insp = await call(agent, m.socket, 'GET', `${base}/${cur.id}`);
            if (insp.status !== 200) throw new Error(`inspect ${key}: ${insp.status} ${insp.text}`);
            const o = insp.json as DockerObj;
            if (!sameLabels(o.Spec.Labels, cur.labels)) wrong(`${key}: live labels ${JSON.stringify(o.Spec.Labels)} != acknowledged ${JSON.stringify(cur.labels)}`);
            if (o.Version.Index < cur.minVersion) wrong(`${key}: live version ${o.Version.Index} < ${cur.minVersion}`);
            cur.minVersion = Math.max(cur.minVersion, o.Version.Index);
            const labels = randomLabels();
            const next: ObjState = { ...cur, labels, minVersion: o.Version.Index + 1 };
            e.inflight = { op: 'update', next };
            const r = await call(agent, m.socket, 'POST', `${base}/${cur.id}/update?version=${o.Version.Index}`, { Name: name, Labels: labels });
            if (r.status !== 200) throw new Error(`update ${key}: ${r.status} ${r.text}`);
            e.acked = next;
            e.inflight = null;
            totals.updates++;
          } else {
            e.inflight = { op: 'remove', next: null };
            const r = await call(agent, m.socket, 'DELETE', `${base}/${e.acked.id}`);
            if (r.status !== 204) throw new Error(`remove ${key}: ${r.status} ${r.text}`);
            e.acked = null;
            e.inflight = null;
            totals.removes++;
          }
        } catch (err) {
          if (dead()) return; // the kill: e.inflight stays as it is, its outcome unknown
          totals.unexpected++;
          if (problems.length < 20) problems.push(`client ${c}: ${(err as Error).message}`);
          e.inflight = null;
          return;
        }
      }
    }

    /** Compares one store listing (API or store file) with the model; returns the objects by kind/name. */
    function check(where: string, listed: Map<string, { id: string; labels: Record<string, string> | null; version: number; dataHash?: string }>): void {
      for (const [key, e] of entries) {
        const got = listed.get(key);
        const matches = (s: ObjState | null): boolean => {
          if (s === null) return got === undefined;
          if (!got) return false;
          if (s.id !== '' && got.id !== s.id) return false;
          if (!sameLabels(got.labels, s.labels)) return false;
          if (got.version < s.minVersion) return false;
          if (got.dataHash !== undefined && got.dataHash !== s.dataHash) return false;
          return true;
        };
        if (matches(e.acked)) continue;
        if (e.inflight && matches(e.inflight.next)) continue;
        const desc = `${where}: ${key} is ${got ? JSON.stringify({ ...got, dataHash: got.dataHash?.slice(0, 12) }) : 'absent'}, acknowledged ${e.acked ? JSON.stringify({ ...e.acked, dataHash: e.acked.dataHash.slice(0, 12) }) : 'absent'}${e.inflight ? ` (in flight: ${e.inflight.op})` : ''}`;
        // An acknowledged object missing, or an acknowledged change not there: lost. Anything else: wrong.
        if ((e.acked && !got) || (e.acked && got && got.id === e.acked.id && got.version < e.acked.minVersion)) {
          totals.lost++;
          if (problems.length < 20) problems.push(`LOST ${desc}`);
        } else wrong(desc);
      }
      for (const key of listed.keys()) if (!entries.has(key)) wrong(`${where}: ${key} exists but was never created`);
    }

    for (let round = 1; round <= ROUNDS; round++) {
      const killAt = 500 + Math.floor(rnd() * (LOAD_MS - 1000));
      let killed = false;
      const before = { ...totals };
      const loadStart = Date.now();
      const agents = Array.from({ length: CLIENTS }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
      const clients = agents.map((agent, c) => client(c, agent, () => killed));
      await new Promise((r) => setTimeout(r, killAt));
      killed = true;
      await m.kill9();
      await Promise.all(clients);
      for (const a of agents) a.destroy();
      const inflight = [...entries.values()].filter((e) => e.inflight).length;
      totals.inflight += inflight;
      t.comment(`round ${round}: killed after ${Date.now() - loadStart} ms; acknowledged ${totals.creates - before.creates} creates, ` +
        `${totals.updates - before.updates} updates, ${totals.removes - before.removes} removes; ${inflight} in flight`);

      // The files exactly as the kill left them, for the store check below (the manager's restart then recovers
      // the originals on its own, which is what must work).
      const copyDir = mkdtempSync(join(work, `r${round}-`));
      for (const suffix of ['', '-wal']) {
        const src = join(m.stateDir, FILES.store + suffix);
        if (existsSync(src)) copyFileSync(src, join(copyDir, FILES.store + suffix));
      }

      const t0 = Date.now();
      await m.restart();
      const took = Date.now() - t0;
      restartMs.push(took);
      t.ok(took < RESTART_BOUND_MS, `round ${round}: the manager answers again ${took} ms after its start (bound ${RESTART_BOUND_MS} ms)`);

      // 1. The API: what a client sees.
      const probe = new http.Agent({ keepAlive: true });
      const listed = new Map<string, { id: string; labels: Record<string, string> | null; version: number; dataHash?: string }>();
      for (const kind of ['secret', 'config'] as const) {
        const r = await call(probe, m.socket, 'GET', `/${kind}s`);
        t.equal(r.status, 200, `list ${kind}s`);
        for (const o of r.json as DockerObj[]) {
          listed.set(`${kind}/${o.Spec.Name}`, {
            id: o.ID,
            labels: o.Spec.Labels,
            version: o.Version.Index,
            ...(kind === 'config' ? { dataHash: sha(Buffer.from(o.Spec.Data ?? '', 'base64')) } : {}),
          });
        }
      }
      probe.destroy();
      check(`round ${round} API`, listed);

      // 2. The stored bytes, with the product's store code on the copy: integrity first, then every object.
      const db = new Database(join(copyDir, FILES.store));
      const integrity = db.pragma('integrity_check', { simple: true });
      db.close();
      t.equal(integrity, 'ok', `round ${round}: PRAGMA integrity_check of the store as the kill left it`);
      const cluster = await OpenCluster.open(m.stateDir);
      const store = new SqliteStore({ path: join(copyDir, FILES.store), dek: cluster.dek });
      const stored = new Map<string, { id: string; labels: Record<string, string> | null; version: number; dataHash?: string }>();
      for (const kind of ['secret', 'config'] as const) {
        for (const o of await store.list(kind)) {
          stored.set(`${kind}/${o.name ?? ''}`, { id: o.id, labels: o.spec.Labels, version: o.version, dataHash: sha(Buffer.from(o.spec.Data, 'base64')) });
        }
      }
      await store.close();
      bytesChecked += stored.size;
      check(`round ${round} store file`, stored);
      // The store file and the restarted manager agree object for object.
      for (const [key, s] of stored) {
        const a = listed.get(key);
        if (!a || a.id !== s.id || a.version !== s.version || !sameLabels(a.labels, s.labels ?? {})) wrong(`round ${round}: ${key} differs between the store file and the API`);
      }
      if (stored.size !== listed.size) wrong(`round ${round}: ${stored.size} objects in the store file, ${listed.size} in the API`);

      // The truth from here on: what the restarted manager holds (in-flight outcomes are now known).
      for (const [key, e] of entries) {
        const got = listed.get(key);
        const s = stored.get(key);
        e.acked = got ? { id: got.id, labels: got.labels ?? {}, minVersion: got.version, dataHash: s?.dataHash ?? e.acked?.dataHash ?? '' } : null;
        e.inflight = null;
      }
      rmSync(copyDir, { recursive: true, force: true });
    }

    // Finally a clean stop: the real store file passes the integrity check too.
    await m.stop();
    const db = new Database(join(m.stateDir, FILES.store), { readonly: true });
    t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'PRAGMA integrity_check of the store after the last restart and a clean stop');
    db.close();

    for (const p of problems) t.comment(`problem: ${p}`);
    const acked = totals.creates + totals.updates + totals.removes;
    const sorted = [...restartMs].sort((a, b) => a - b);
    t.comment(`figure manager-crash.rounds: ${ROUNDS} kill -9 rounds under ${CLIENTS} clients (seed ${seed})`);
    t.comment(`figure manager-crash.acked: ${acked} acknowledged writes (${totals.creates} creates, ${totals.updates} updates, ${totals.removes} removes)`);
    t.comment(`figure manager-crash.inflight: ${totals.inflight} operations in flight at the kills (either outcome accepted)`);
    t.comment(`figure manager-crash.lost: ${totals.lost} acknowledged writes lost`);
    t.comment(`figure manager-crash.wrong: ${totals.wrong} wrong objects (labels, versions, bytes, extras; stored bytes of ${bytesChecked} objects compared)`);
    t.comment(`figure manager-crash.restart: manager answering after ${sorted[Math.floor(sorted.length / 2)]} ms median, ${sorted.at(-1)} ms max`);
    t.equal(totals.unexpected, 0, 'no request failed before a kill');
    t.ok(acked > 100 * ROUNDS, `load ran (${acked} acknowledged writes)`);
    t.equal(totals.lost, 0, 'no acknowledged write lost');
    t.equal(totals.wrong, 0, 'nothing wrong or half-written');
  });
}
