// docker service logs (reference §3.7): GET /services/{id}/logs and GET /tasks/{id}/logs, streamed from the logs
// of the tasks' containers on their nodes (over the session tunnels), each line with the Swarm attributes the CLI
// reads from `details` (node, service and task IDs) and, when asked, its timestamp.
import type { ServerResponse } from 'node:http';
import { containerIdOf } from '../../shared/container-id.js';
import { errorMessage } from '../../shared/errors.js';
import { FrameReader, frame } from '../../shared/stdcopy.js';
import type { StoredObject } from '../store/types.js';
import type { TaskRecord } from '../orchestrator/types.js';
import type { Ctx, Router } from './router.js';
import { ApiError } from './http.js';
import { pick } from './services.js';
import { nodeRequest } from './node-forward.js';
import type { ContainerRouteDeps } from './containers.js';

const FALSE = new Set(['', '0', 'no', 'false', 'none']);
const boolParam = (q: URLSearchParams, k: string): boolean => q.has(k) && !FALSE.has((q.get(k) ?? '').trim().toLowerCase());

interface LogParams {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  timestamps: boolean;
  details: boolean;
  tail: string;
  since: string;
}

/** Docker's checks and texts for the service logs query. */
export function logParams(q: URLSearchParams): LogParams {
  const p: LogParams = {
    stdout: boolParam(q, 'stdout'),
    stderr: boolParam(q, 'stderr'),
    follow: boolParam(q, 'follow'),
    timestamps: boolParam(q, 'timestamps'),
    details: boolParam(q, 'details'),
    tail: q.get('tail') ?? '',
    since: q.get('since') ?? '',
  };
  if (!p.stdout && !p.stderr) throw new ApiError(400, 'Bad parameters: you must choose at least one stream');
  if (p.tail !== '' && p.tail !== 'all') {
    if (!/^-?\d+$/.test(p.tail)) throw new ApiError(400, 'tail value must be a positive integer or "all"');
    if (p.tail.startsWith('-')) throw new ApiError(400, 'negative tail values not supported');
  }
  if (p.since !== '' && !/^\d+(\.\d{1,9})?$/.test(p.since)) throw new ApiError(400, 'could not parse since timestamp');
  return p;
}

function attrs(t: StoredObject<TaskRecord>): string {
  const kv: Array<[string, string]> = [
    ['com.docker.swarm.node.id', t.spec.NodeID],
    ['com.docker.swarm.service.id', t.spec.ServiceID],
    ['com.docker.swarm.task.id', t.id],
  ];
  return kv.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join(',');
}

/** One task's log lines from its node, re-framed with the task's attributes; resolves when the node's stream ends. */
async function streamTask(deps: ContainerRouteDeps, t: StoredObject<TaskRecord>, p: LogParams, out: ServerResponse): Promise<void> {
  const q = new URLSearchParams({ stdout: p.stdout ? '1' : '0', stderr: p.stderr ? '1' : '0', timestamps: '1', follow: p.follow ? '1' : '0', tail: p.tail || 'all' });
  if (p.since) q.set('since', p.since);
  const res = await nodeRequest(deps.tunnels(), t.spec.NodeID, { method: 'GET', path: `/v1.47/containers/${containerIdOf(t.id)}/logs?${q.toString()}` });
  if (res.statusCode !== 200) {
    res.resume();
    return; // no container for it there (never started, or removed): nothing to show, as Docker shows nothing
  }
  const details = attrs(t);
  const reader = new FrameReader();
  out.once('close', () => res.destroy());
  res.on('data', (c: Buffer) => {
    for (const f of reader.push(c)) {
      const sp = f.payload.indexOf(0x20);
      const ts = sp < 0 ? '' : f.payload.subarray(0, sp).toString('utf8');
      const line = sp < 0 ? f.payload : f.payload.subarray(sp + 1);
      const prefix = `${p.timestamps ? ts + ' ' : ''}${p.details ? details + ' ' : ''}`;
      out.write(frame(f.stream, Buffer.concat([Buffer.from(prefix, 'utf8'), line])));
    }
  });
  await new Promise<void>((resolve) => {
    res.once('end', resolve);
    res.once('close', resolve);
    res.once('error', () => resolve());
  });
}

/**
 * Streams the logs of `tasks` (and, with follow, of the service's tasks that start later: Docker's log broker
 * follows the service, not a list of tasks). Without follow it ends when every node's stream has ended; with follow
 * when the client goes.
 */
async function serveLogs(ctx: Ctx, deps: ContainerRouteDeps, tasks: StoredObject<TaskRecord>[], follow?: { serviceId: string; fromIndex: number }): Promise<void> {
  const p = logParams(ctx.query);
  ctx.res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
  ctx.res.flushHeaders();
  const streaming = new Set<string>();
  const start = (t: StoredObject<TaskRecord>, tail: string): Promise<void> => {
    if (streaming.has(t.id) || t.spec.NodeID === '' || !deps.tunnels().connectedNodes().includes(t.spec.NodeID)) return Promise.resolve();
    streaming.add(t.id);
    return streamTask(deps, t, { ...p, tail }, ctx.res).catch((err) => deps.log.warn({ task: t.id, err: errorMessage(err) }, 'task logs from its node failed'));
  };
  const closed = new Promise<void>((resolve) => ctx.res.once('close', resolve));
  let unwatch: (() => void) | null = null;
  if (p.follow && follow) {
    // New tasks of the service, once running on their node (their container exists there then): all their lines.
    // From the index the task list was read at: nothing that changed since is missed (start() skips repeats).
    unwatch = await deps.store().watch(follow.fromIndex, (e) => {
      const t = e.object as StoredObject<TaskRecord> | null;
      if (e.kind !== 'task' || e.action === 'delete' || !t || t.spec.ServiceID !== follow.serviceId || t.spec.Status.State !== 'running') return;
      void start(t, 'all');
    });
  }
  try {
    const first = Promise.all(tasks.map((t) => start(t, p.tail)));
    await (p.follow && follow ? closed : Promise.race([first, closed]));
  } finally {
    unwatch?.();
  }
  ctx.res.end();
}

export function registerServiceLogRoutes(router: Router, deps: ContainerRouteDeps): void {
  router.add('GET', '/services/:id/logs', async (ctx) => {
    const store = deps.store();
    const input = ctx.params.id ?? '';
    const svc = (await store.get('service', input)) ?? pick(await store.list('service'), input, 'service', (s) => s.spec.Spec.Name);
    const fromIndex = await store.currentIndex();
    const tasks = (await store.list('task')).filter((t) => t.spec.ServiceID === svc.id).sort((a, b) => a.spec.Slot - b.spec.Slot);
    await serveLogs(ctx, deps, tasks, { serviceId: svc.id, fromIndex });
  });
  router.add('GET', '/tasks/:id/logs', async (ctx) => {
    const all = await deps.store().list('task');
    const t = pick(all, ctx.params.id ?? '', 'task', (x) => x.id);
    await serveLogs(ctx, deps, [t]);
  });
}
