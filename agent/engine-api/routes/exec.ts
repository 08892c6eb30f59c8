// docker exec's routes (reference §3.3): create, inspect, resize, and a detached start (the attached start is a
// hijacked connection: hijack.ts).
import type { ExecRequest } from '../../runtime/runtime.js';
import { findContainer, type EngineRuntime } from '../containers.js';
import type { ExecStore } from '../exec-store.js';
import { EngineError, noSuchExec, notRunning, readJsonBody, sendJson } from '../http.js';
import type { EngineRouter } from '../router.js';
import { errorMessage } from '../../../shared/errors.js';

function strings(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new EngineError(400, `invalid ${what}: expected a list of strings`);
  return v as string[];
}

function optString(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new EngineError(400, `invalid ${what}: expected a string`);
  return v;
}

export function registerExecRoutes(router: EngineRouter, o: { runtime: EngineRuntime; execs: ExecStore }): void {
  router.add('POST', '/containers/:id/exec', async ({ req, res, params }) => {
    const body = await readJsonBody(req);
    const c = findContainer(o.runtime, params.id!);
    const argv = strings(body.Cmd, 'Cmd') ?? [];
    if (argv.length === 0) throw new EngineError(400, 'No exec command specified');
    if (c.status.state !== 'running') throw notRunning(c.containerId);
    const r: ExecRequest = { argv, tty: body.Tty === true };
    const user = optString(body.User, 'User');
    const env = strings(body.Env, 'Env');
    const wd = optString(body.WorkingDir, 'WorkingDir');
    if (user !== undefined) r.user = user;
    if (env !== undefined) r.env = env;
    if (wd !== undefined) r.workingDir = wd;
    let command;
    try {
      command = o.runtime.execCommand(c.taskId, r);
    } catch (err) {
      throw new EngineError(409, errorMessage(err));
    }
    const inst = o.execs.create({
      containerId: c.containerId,
      taskId: c.taskId,
      req: r,
      attachStdin: body.AttachStdin === true,
      attachStdout: body.AttachStdout === true,
      attachStderr: body.AttachStderr === true,
      detachKeys: typeof body.DetachKeys === 'string' ? body.DetachKeys : '',
      command,
    });
    const size = body.ConsoleSize;
    if (Array.isArray(size) && size.length === 2 && size.every((n) => Number.isInteger(n) && n > 0)) inst.size = { rows: size[0] as number, cols: size[1] as number };
    sendJson(res, 201, { Id: inst.id });
  });

  router.add('GET', '/exec/:id/json', ({ res, params }) => {
    const e = o.execs.get(params.id!);
    if (!e) throw noSuchExec(params.id!);
    sendJson(res, 200, {
      ID: e.id,
      Running: e.running,
      ExitCode: e.running || !e.started ? null : e.exitCode,
      ProcessConfig: { tty: e.req.tty, entrypoint: e.req.argv[0], arguments: e.req.argv.slice(1), privileged: false, user: e.req.user ?? '' },
      OpenStdin: e.attachStdin,
      OpenStderr: e.attachStderr,
      OpenStdout: e.attachStdout,
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: e.detachKeys,
      Pid: e.pid,
    });
  });

  router.add('POST', '/exec/:id/resize', ({ res, params, query }) => {
    const e = o.execs.get(params.id!);
    if (!e) throw noSuchExec(params.id!);
    const h = Number(query.get('h'));
    const w = Number(query.get('w'));
    if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0) throw new EngineError(400, 'invalid resize: h and w must be non-negative integers');
    o.execs.resize(e, h, w);
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  });

  // Without an Upgrade header: Detach runs it with no stream (200, empty body); otherwise the output is the body.
  router.add('POST', '/exec/:id/start', async ({ req, res, params }) => {
    const body = await readJsonBody(req);
    const e = o.execs.get(params.id!);
    if (!e) throw noSuchExec(params.id!);
    if (e.started) throw new EngineError(409, `Exec command ${e.id} has already run`);
    if (body.Detach !== true) throw new EngineError(400, 'an attached exec start needs Connection: Upgrade, Upgrade: tcp');
    const { child } = o.execs.spawn(e);
    child.stdin!.end();
    child.stdout!.resume();
    child.stderr!.resume();
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  });
}
