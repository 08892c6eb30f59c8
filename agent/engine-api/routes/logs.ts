// GET /containers/{id}/logs (reference §3.6): the task's stored lines (agent/logs/), stdcopy-framed, with tail,
// since, until, timestamps and details; follow streams new lines until the container stops or the client leaves.
import type { ServerResponse } from 'node:http';
import { FINAL_STATES, type TaskStatus } from '../../executor/spec.js';
import { fixedTimestamp, parseUnixTimestamp, type LogEntry, type LogStore } from '../../logs/index.js';
import { frame, STDERR, STDOUT } from '../../../shared/stdcopy.js';
import { findContainer, dockerState, type EngineRuntime } from '../containers.js';
import { EngineError, boolParam, streamContentType } from '../http.js';
import type { EngineRouter } from '../router.js';

export interface LineFormat {
  stdout: boolean;
  stderr: boolean;
  timestamps: boolean;
  details: boolean;
}

/** One stored line as Docker sends it: [timestamp ][details ]line, in a frame of its stream. */
export function formatLine(e: LogEntry, f: LineFormat): Buffer | null {
  if (e.stream === 'stdout' ? !f.stdout : !f.stderr) return null;
  const prefix = `${f.timestamps ? fixedTimestamp(e.timeNs) + ' ' : ''}${f.details ? ' ' : ''}`;
  const payload = prefix === '' ? e.line : Buffer.concat([Buffer.from(prefix, 'utf8'), e.line]);
  return frame(e.stream === 'stdout' ? STDOUT : STDERR, payload);
}

function parseTail(v: string | null): number | undefined {
  if (v === null || v === '' || v === 'all') return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined; // Docker: a tail that is not an integer means all
}

function timestampParam(v: string | null, what: string): bigint | null {
  try {
    return parseUnixTimestamp(v);
  } catch {
    throw new EngineError(400, `invalid value for "${what}": ${v ?? ''}`);
  }
}

export function registerLogRoutes(router: EngineRouter, o: { runtime: EngineRuntime; logs: LogStore }): void {
  router.add('GET', '/containers/:id/logs', ({ req, res, params, query, apiVersion }) => {
    const f: LineFormat = { stdout: boolParam(query, 'stdout'), stderr: boolParam(query, 'stderr'), timestamps: boolParam(query, 'timestamps'), details: boolParam(query, 'details') };
    if (!f.stdout && !f.stderr) throw new EngineError(400, 'Bad parameters: you must choose at least one stream');
    const c = findContainer(o.runtime, params.id!);
    if (dockerState(c.status.state) === 'dead') throw new EngineError(409, 'can not get logs from container which is dead or marked for removal');
    const sinceNs = timestampParam(query.get('since'), 'since');
    const untilNs = timestampParam(query.get('until'), 'until');
    const tail = parseTail(query.get('tail'));
    const follow = boolParam(query, 'follow') && dockerState(c.status.state) === 'running' && untilNs === null;
    res.writeHead(200, { 'Content-Type': streamContentType(false, apiVersion) });
    res.flushHeaders();
    // Read and subscribe in one tick: the store writes synchronously, so no line is lost or sent twice.
    const backlog = o.logs.read(c.taskId, { tail, sinceNs, untilNs });
    const send = (e: LogEntry): void => {
      const b = formatLine(e, f);
      if (b) res.write(b);
    };
    if (!follow) {
      for (const e of backlog) send(e);
      res.end();
      return;
    }
    const cleanup: Array<() => void> = [];
    const finish = (): void => {
      for (const c of cleanup.splice(0)) c();
      res.end();
    };
    cleanup.push(o.logs.subscribe(c.taskId, send, finish));
    for (const e of backlog) send(e);
    const onStatus = (s: TaskStatus): void => {
      if (s.id !== c.taskId || !FINAL_STATES.has(s.state)) return;
      // Its last output may still be held without a newline, or be on its way from the pipes: store, then end.
      setTimeout(() => {
        o.logs.flush(c.taskId);
        finish();
      }, 100);
    };
    o.runtime.on('status', onStatus);
    cleanup.push(() => o.runtime.off('status', onStatus));
    req.socket.once('close', finish);
    cleanup.push(() => req.socket.off('close', finish));
    endOnClose(res, finish);
  });
}

function endOnClose(res: ServerResponse, finish: () => void): void {
  res.once('close', finish);
}
