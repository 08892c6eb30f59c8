// Where the client connects: `--host`/`-H`, else RUNSECRETS_HOST, else the local manager socket. Hosts are
// docker's forms: unix:///path or tcp://host:port; TCP uses mutual TLS when certificates are given (--tlscert,
// --tlskey, --tlscacert, or ca.pem/cert.pem/key.pem in RUNSECRETS_CERT_PATH, like DOCKER_CERT_PATH).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_HOST = 'unix:///run/runsecrets/manager.sock';

export interface TlsFiles {
  cert?: string;
  key?: string;
  ca?: string;
}

export type Endpoint =
  | { kind: 'unix'; url: string; socketPath: string }
  | { kind: 'tcp'; url: string; host: string; port: number; tls: { cert?: Buffer; key?: Buffer; ca?: Buffer } | null };

export interface HostOptions {
  host?: string;
  tlscert?: string;
  tlskey?: string;
  tlscacert?: string;
}

export class EndpointError extends Error {
  override name = 'EndpointError';
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new EndpointError(`could not read ${what} ${path}: ${code === 'ENOENT' ? 'no such file or directory' : code}`);
  }
}

/** Resolves flags and environment into an endpoint; throws EndpointError with a message for the user. */
export function resolveEndpoint(opts: HostOptions, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const raw = (opts.host || env.RUNSECRETS_HOST || DEFAULT_HOST).trim();
  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length);
    if (socketPath === '') throw new EndpointError(`invalid host "${raw}": the socket path is empty`);
    return { kind: 'unix', url: raw, socketPath };
  }
  if (!raw.startsWith('tcp://')) {
    throw new EndpointError(`invalid host "${raw}": use unix:///path/to/socket or tcp://host:port`);
  }
  const certPath = env.RUNSECRETS_CERT_PATH;
  const files: TlsFiles = {
    cert: opts.tlscert ?? (certPath ? join(certPath, 'cert.pem') : undefined),
    key: opts.tlskey ?? (certPath ? join(certPath, 'key.pem') : undefined),
    ca: opts.tlscacert ?? (certPath ? join(certPath, 'ca.pem') : undefined),
  };
  const useTls = files.cert !== undefined || files.key !== undefined || files.ca !== undefined;
  let url: URL;
  try {
    url = new URL(raw.replace(/^tcp:/, 'http:'));
  } catch {
    throw new EndpointError(`invalid host "${raw}"`);
  }
  const port = url.port ? Number(url.port) : useTls ? 2376 : 2375;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!useTls) return { kind: 'tcp', url: raw, host, port, tls: null };
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new EndpointError('a client certificate needs both --tlscert and --tlskey');
  }
  // Without a client certificate the TLS connection is still made; the manager then refuses it.
  return {
    kind: 'tcp',
    url: raw,
    host,
    port,
    tls: {
      cert: files.cert !== undefined ? readPem(files.cert, 'certificate') : undefined,
      key: files.key !== undefined ? readPem(files.key, 'key') : undefined,
      ca: files.ca !== undefined ? readPem(files.ca, 'CA certificate') : undefined,
    },
  };
}
