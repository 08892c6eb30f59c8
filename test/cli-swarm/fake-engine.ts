// A TEST FIXTURE FOR THE CLIENT ONLY: a small scripted Docker Engine API on a temporary Unix socket, serving
// canned, Docker-shaped services, tasks, nodes, secrets and configs, and recording every request. It lets the
// stock docker CLI and runsecrets be driven with the same answers, so that their requests and outputs can be
// compared. The real manager gains these routes separately (manager/api); nothing here is product code.
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Json = Record<string, unknown>;

export interface EngineState {
  secrets: Json[];
  configs: Json[];
  services: Json[];
  tasks: Json[];
  nodes: Json[];
  info: Json;
}

export interface Seen {
  method: string;
  path: string;
  query: Record<string, unknown>;
  body: unknown;
}

export interface FakeEngine {
  socket: string;
  host: string;
  state: EngineState;
  seen: Seen[];
  /** Requests since the last take(), without the version pings. */
  take(): Seen[];
  close(): Promise<void>;
}

const name = (o: Json): string => String((o.Spec as Json | undefined)?.Name ?? '');

function parseFilters(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get('filters');
  if (!raw) return {};
  const obj = JSON.parse(raw) as Record<string, Record<string, boolean> | string[]>;
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = Array.isArray(v) ? v : Object.keys(v);
  return out;
}

function match(f: Record<string, string[]>, key: string, test: (v: string) => boolean): boolean {
  const vals = f[key];
  return !vals || vals.some(test);
}

/** An object by full ID, full name, or unique ID prefix, as swarmkit's lookups do. */
function lookup(list: Json[], ref: string, nameOf: (o: Json) => string = name): Json | undefined {
  return (
    list.find((o) => o.ID === ref) ??
    list.find((o) => nameOf(o) === ref) ??
    (() => {
      const hits = list.filter((o) => String(o.ID).startsWith(ref));
      return hits.length === 1 ? hits[0] : undefined;
    })()
  );
}

export async function startFakeEngine(state: EngineState): Promise<FakeEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-fake-engine-'));
  const socket = join(dir, 'engine.sock');
  const seen: Seen[] = [];
  let taken = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://engine');
      const path = url.pathname.replace(/^\/v[0-9.]+/, '');
      const text = Buffer.concat(chunks).toString('utf8');
      const query: Record<string, unknown> = {};
      for (const [k, v] of url.searchParams) query[k] = k === 'filters' ? JSON.parse(v) : v;
      if (path !== '/_ping') seen.push({ method: req.method ?? '', path, query, body: text === '' ? null : JSON.parse(text) });
      const send = (status: number, body?: unknown): void => {
        res.writeHead(status, { 'Content-Type': 'application/json', 'Api-Version': '1.47' });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      const notFound = (what: string, ref: string): void => send(404, { message: `${what} ${ref} not found` });
      const f = parseFilters(url.searchParams);
      const m = req.method ?? 'GET';
      let p: RegExpExecArray | null;
      if (path === '/_ping') {
        res.writeHead(200, { 'Api-Version': '1.47', 'Content-Type': 'text/plain' });
        res.end(m === 'HEAD' ? undefined : 'OK');
      } else if (m === 'GET' && (path === '/secrets' || path === '/configs')) {
        const list = path === '/secrets' ? state.secrets : state.configs;
        send(200, list.filter((o) => match(f, 'name', (v) => name(o).startsWith(v))));
      } else if (m === 'GET' && path === '/services') {
        send(200, state.services.filter((s) => match(f, 'id', (v) => String(s.ID).startsWith(v)) && match(f, 'name', (v) => name(s).startsWith(v))));
      } else if (m === 'POST' && path === '/services/create') {
        send(201, { ID: 'newserviceid0000000000001' });
      } else if ((p = /^\/services\/([^/]+)\/update$/.exec(path)) && m === 'POST') {
        const s = lookup(state.services, decodeURIComponent(p[1]!));
        if (!s) notFound('service', p[1]!);
        else send(200, {});
      } else if ((p = /^\/services\/([^/]+)$/.exec(path))) {
        const ref = decodeURIComponent(p[1]!);
        const s = lookup(state.services, ref);
        if (!s) notFound('service', ref);
        else if (m === 'DELETE') send(200);
        else send(200, s);
      } else if (m === 'GET' && path === '/tasks') {
        send(
          200,
          state.tasks.filter(
            (t) =>
              match(f, 'service', (v) => t.ServiceID === v) &&
              match(f, 'node', (v) => t.NodeID === v) &&
              match(f, 'desired-state', (v) => t.DesiredState === v) &&
              match(f, 'id', (v) => String(t.ID).startsWith(v)),
          ),
        );
      } else if (m === 'GET' && path === '/nodes') {
        send(200, state.nodes.filter((n) => match(f, 'id', (v) => String(n.ID).startsWith(v))));
      } else if ((p = /^\/nodes\/([^/]+)\/update$/.exec(path)) && m === 'POST') {
        send(200);
      } else if ((p = /^\/nodes\/([^/]+)$/.exec(path))) {
        const ref = decodeURIComponent(p[1]!);
        const n = lookup(state.nodes, ref, (o) => String((o.Description as Json | undefined)?.Hostname ?? ''));
        if (!n) notFound('node', ref);
        else if (m === 'DELETE') send(200);
        else send(200, n);
      } else if (m === 'GET' && path === '/info') {
        send(200, state.info);
      } else {
        send(404, { message: `page not found: ${m} ${path}` });
      }
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return {
    socket,
    host: `unix://${socket}`,
    state,
    seen,
    take() {
      const out = seen.slice(taken);
      taken = seen.length;
      return out;
    },
    close: () =>
      new Promise<void>((r) =>
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          r();
        }),
      ),
  };
}
