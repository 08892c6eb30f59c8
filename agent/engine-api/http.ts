// The node's Engine API answers, Docker's way: JSON bodies, `{"message": …}` errors, Docker's common headers.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const ENGINE_API_VERSION = '1.47';
export const ENGINE_MIN_API_VERSION = '1.24';
export const COMMON_HEADERS: ReadonlyArray<[string, string]> = [
  ['Api-Version', ENGINE_API_VERSION],
  ['Docker-Experimental', 'false'],
  ['Ostype', 'linux'],
  ['Server', 'runsecrets-agent/0.1.0 (linux)'],
];

export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const noSuchContainer = (id: string): EngineError => new EngineError(404, `No such container: ${id}`);
export const notRunning = (id: string): EngineError => new EngineError(409, `container ${id} is not running`);
export const noSuchExec = (id: string): EngineError => new EngineError(404, `No such exec instance: ${id}`);

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { message });
}

/** httputils.BoolValue: "", 0, no, false, none are false; anything else is true. */
export function boolParam(q: URLSearchParams, k: string): boolean {
  const v = q.get(k);
  if (v === null) return false;
  return !['', '0', 'no', 'false', 'none'].includes(v.trim().toLowerCase());
}

/** Docker's filters JSON, current ({"k":{"v":true}}) or legacy ({"k":["v"]}) form, as key -> values. */
export function parseFilters(raw: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (raw === null || raw === '') return out;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new EngineError(400, 'invalid filter: the filters parameter is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new EngineError(400, 'invalid filter: expected an object');
  for (const [k, vals] of Object.entries(v as Record<string, unknown>)) {
    if (Array.isArray(vals)) out.set(k, vals.filter((x): x is string => typeof x === 'string'));
    else if (typeof vals === 'object' && vals !== null) out.set(k, Object.keys(vals));
    else throw new EngineError(400, `invalid filter '${k}'`);
  }
  return out;
}

const MAX_BODY = 64 * 1024;

/** A small JSON body (exec options); an empty body is {}. */
export function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.removeAllListeners('data');
        reject(new EngineError(413, `request body too large: the limit is ${MAX_BODY} bytes`));
      } else chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(parseJsonObject(Buffer.concat(chunks)));
      } catch (err) {
        reject(err as Error);
      }
    });
    req.on('error', (e) => reject(new EngineError(400, `error reading request body: ${e.message}`)));
  });
}

export function parseJsonObject(body: Buffer): Record<string, unknown> {
  const text = body.toString('utf8').trim();
  if (text === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new EngineError(400, 'invalid JSON in the request body');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new EngineError(400, 'invalid JSON: expected an object');
  return v as Record<string, unknown>;
}

/** Content-Type of a stream answer (§3.4): raw with a TTY, multiplexed otherwise from API 1.42 on. */
export function streamContentType(tty: boolean, apiVersion: string): string {
  const [maj = 1, min = 0] = apiVersion.split('.').map(Number);
  return !tty && (maj > 1 || min >= 42) ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream';
}
