// A minimal client for the manager's own administration commands over its Unix socket. The running manager holds
// the keys, so join tokens, unlock keys and certificates are asked of it rather than read from the state dir.
import http from 'node:http';

export const DEFAULT_SOCKET = '/run/runsecrets/manager.sock';

export class DaemonError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface AdminResponse {
  status: number;
  body: unknown;
}

export function adminRequest(socketPath: string, method: string, path: string, body?: unknown): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        socketPath,
        method,
        path,
        headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = null;
          if (text.trim() !== '') {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
          }
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            const msg = (parsed as { message?: unknown } | null)?.message;
            reject(new DaemonError(status, typeof msg === 'string' ? msg : `HTTP ${status}`));
          } else resolve({ status, body: parsed });
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'Is the manager running?' : err.message;
      reject(new Error(`Cannot connect to the runsecrets manager at unix://${socketPath}. ${why}`));
    });
    req.end(payload);
  });
}
