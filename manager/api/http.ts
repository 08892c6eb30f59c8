// HTTP plumbing for the API: Docker-shaped JSON answers and errors, and request bodies read under a size limit.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';

/** An error that becomes `{"message": ...}` with its status, Docker's way. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** swarmkit's errors reach Docker clients as rendered gRPC statuses. */
export type GrpcCode = 'InvalidArgument' | 'AlreadyExists' | 'NotFound' | 'Unknown' | 'FailedPrecondition' | 'Unimplemented';
const GRPC_HTTP: Record<GrpcCode, number> = {
  InvalidArgument: 400,
  AlreadyExists: 409,
  NotFound: 404,
  Unknown: 500,
  FailedPrecondition: 400,
  Unimplemented: 501,
};

export function rpcError(code: GrpcCode, desc: string): ApiError {
  return new ApiError(GRPC_HTTP[code], `rpc error: code = ${code} desc = ${desc}`);
}

// Set once per response; Docker's daemon sends these on every answer.
const COMMON_HEADERS: [string, string][] = [
  ['Api-Version', API_VERSION],
  ['Docker-Experimental', 'false'],
  ['Ostype', 'linux'],
  ['Server', 'runsecrets/0.1.0 (linux)'],
];

export function commonHeaders(res: ServerResponse): void {
  for (const [k, v] of COMMON_HEADERS) res.setHeader(k, v);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

export function sendError(res: ServerResponse, status: number, message: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (close) res.setHeader('Connection', 'close');
  sendJson(res, status, { message });
}

export function tooLarge(limit: number): ApiError {
  return new ApiError(413, `request body too large: the limit for this request is ${limit} bytes`);
}

/**
 * Reads a body of at most `limit` bytes. A declared Content-Length over the limit is refused before any byte is
 * read; a chunked body is cut off as soon as it passes the limit. Either way the connection is closed after the
 * answer, so the unread rest cannot be taken for a next request.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    req.pause();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      req.removeAllListeners('data');
      if (err) {
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
      // The body may be a secret (base64 in JSON): the pieces are not kept, so they are zeroed (readJson zeroes
      // the whole once parsed).
      for (const c of chunks) c.fill(0);
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) finish(tooLarge(limit));
      else chunks.push(c);
    });
    req.on('end', () => finish(null));
    req.on('error', (e) => finish(new ApiError(400, `error reading request body: ${e.message}`)));
    req.on('aborted', () => finish(new ApiError(400, 'request body aborted by the client')));
  });
}

/** moby's CheckForJSON: an absent Content-Type is fine, anything but JSON is refused. */
export function checkJsonContentType(req: IncomingMessage): void {
  const ct = req.headers['content-type'];
  if (ct === undefined || ct === '') return;
  const mt = ct.split(';')[0]?.trim().toLowerCase();
  if (mt !== 'application/json') throw new ApiError(400, `unsupported Content-Type header (${ct}): must be 'application/json'`);
}

/** moby's ReadJSON: the body must be one JSON value; returns it parsed. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  checkJsonContentType(req);
  const raw = await readBody(req, limit);
  const text = raw.toString('utf8').trim();
  raw.fill(0); // the text (a JS string, which cannot be zeroed) is all that is kept
  if (text === '') throw new ApiError(400, 'invalid JSON: got EOF while reading request body');
  if (nestingExceeds(text, MAX_JSON_DEPTH)) throw new ApiError(400, `invalid JSON: exceeded max depth (${MAX_JSON_DEPTH} levels)`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, `invalid JSON: ${jsonSyntaxError(err)}`);
  }
}

/** Deeper values are refused before parsing: JSON.parse copes, but JSON.stringify and structuredClone (the store,
 * its writer thread) recurse and overflow the stack at a few thousand levels. Real specs nest about ten deep. */
export const MAX_JSON_DEPTH = 512;

/** Does the text nest arrays/objects deeper than `max`? Brackets inside strings do not count. */
export function nestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * A JSON syntax error described without quoting the input: V8's messages embed a piece of the text, which may be
 * secret data, and error messages reach logs and answers.
 */
export function jsonSyntaxError(err: unknown): string {
  const m = String((err as Error).message ?? err);
  if (/end of JSON input/.test(m)) return 'unexpected end of JSON input';
  const pos = /at position (\d+)/.exec(m);
  if (pos) return `syntax error at offset ${pos[1]}`;
  return 'invalid character (not valid JSON)';
}
