// The one place that builds skopeo's argv and runs it: inspect (manager: GET /distribution) and copy (agent: pulls).
// Credentials go through an --authfile written 0600 in a private temp dir and removed right after, never argv
// (argv is readable by every user in /proc/PID/cmdline).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryEndpoint } from './registry-rules.js';

/** Registry credentials as in X-Registry-Auth (moby api/types/registry AuthConfig), the fields a pull uses. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  identitytoken?: string;
  serveraddress?: string;
}

export type SkopeoFailureKind = 'manifest-unknown' | 'name-unknown' | 'denied' | 'unreachable' | 'other';

/** skopeo failed: kind classifies the registry's answer, detail is the registry's (or network's) own text. */
export class SkopeoError extends Error {
  constructor(
    readonly kind: SkopeoFailureKind,
    readonly detail: string,
    readonly endpoint: string,
  ) {
    super(`skopeo on ${endpoint}: ${detail}`);
  }
}

/** "docker://host/path:tag" or "docker://host/path@sha256:...". */
export function dockerTransportRef(ep: RegistryEndpoint, tagOrDigest: { tag?: string; digest?: string }): string {
  const suffix = tagOrDigest.digest !== undefined ? `@${tagOrDigest.digest}` : `:${tagOrDigest.tag ?? 'latest'}`;
  return `docker://${ep.host}/${ep.path}${suffix}`;
}

function commonSourceArgs(ep: RegistryEndpoint, authfile: string | null): string[] {
  // Without --authfile skopeo would read the host's own auth.json / ~/.docker/config.json: a pull must use only what
  // the service was given, so an empty file stands in when there are no credentials.
  return [`--src-tls-verify=${ep.tlsVerify ? 'true' : 'false'}`, ...(authfile !== null ? ['--src-authfile', authfile] : [])];
}

/** argv (without "skopeo") to read a manifest's raw bytes, or (config) the image config blob. */
export function inspectArgv(ep: RegistryEndpoint, ref: { tag?: string; digest?: string }, authfile: string | null, what: 'manifest' | 'config'): string[] {
  // inspect takes --tls-verify/--authfile (no src- prefix).
  const common = commonSourceArgs(ep, authfile).map((a) => a.replace(/^--src-/, '--'));
  return ['inspect', '--retry-times', '0', '--raw', ...(what === 'config' ? ['--config'] : []), ...common, dockerTransportRef(ep, ref)];
}

/** argv (without "skopeo") to copy an image by digest into an OCI layout under a tag (blobs already there are kept). */
export function copyArgv(ep: RegistryEndpoint, digest: string, layoutDir: string, layoutTag: string, authfile: string | null): string[] {
  return ['copy', '--quiet', '--retry-times', '0', ...commonSourceArgs(ep, authfile), dockerTransportRef(ep, { digest }), `oci:${layoutDir}:${layoutTag}`];
}

/** containers-auth.json's entry for one registry (REGISTRY_AUTH_FILE format). */
function authFileBody(host: string, auth: RegistryAuth | undefined): string {
  if (!auth) return JSON.stringify({ auths: {} });
  const entry: Record<string, string> = {};
  if (auth.identitytoken) entry.identitytoken = auth.identitytoken;
  if (auth.username !== undefined || auth.password !== undefined) {
    entry.auth = Buffer.from(`${auth.username ?? ''}:${auth.password ?? ''}`).toString('base64');
  }
  // The Hub's credentials are keyed by docker.io in containers-auth.json; everything else by host[:port].
  return JSON.stringify({ auths: { [host]: entry } });
}

/** Runs fn with the path of an auth file holding only these credentials; the file and its folder are removed after. */
export async function withAuthFile<T>(host: string, auth: RegistryAuth | undefined, fn: (authfile: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'runsecrets-auth-')); // mkdtemp makes it 0700
  try {
    const file = join(dir, 'auth.json');
    await writeFile(file, authFileBody(host, auth), { mode: 0o600, flag: 'wx' });
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** skopeo's last "msg=..." (logrus) text, unquoted, else the last non-empty stderr line. */
export function skopeoMessage(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const last = lines[lines.length - 1] ?? '';
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  if (m) {
    try {
      return JSON.parse(`"${m[1]!}"`) as string;
    } catch {
      return m[1]!;
    }
  }
  return last.trim();
}

/** Classifies skopeo's message; cause is the part the registry or network said (Docker shows that part). */
export function classifySkopeoMessage(msg: string): { kind: SkopeoFailureKind; cause: string } {
  const from = (needle: string): string => msg.slice(msg.indexOf(needle));
  if (msg.includes('manifest unknown')) return { kind: 'manifest-unknown', cause: from('manifest unknown') };
  if (msg.includes('name unknown')) return { kind: 'name-unknown', cause: from('name unknown') };
  for (const needle of ['denied:', 'unauthorized:', 'requested access to the resource is denied', 'authentication required']) {
    if (msg.includes(needle)) return { kind: 'denied', cause: from(needle) };
  }
  const ping = /pinging container registry [^:]+(?::\d+)?: (.*)$/s.exec(msg);
  if (ping) return { kind: 'unreachable', cause: ping[1]! };
  if (/connection refused|no such host|i\/o timeout|connection reset/.test(msg)) {
    const get = msg.indexOf('Get "');
    return { kind: 'unreachable', cause: get >= 0 ? msg.slice(get) : msg };
  }
  return { kind: 'other', cause: msg };
}

export interface SkopeoResult {
  stdout: Buffer;
}

/** The skopeo binary: RUNSECRETS_SKOPEO overrides (tests, hosts with it elsewhere). */
export function skopeoBinary(): string {
  return process.env.RUNSECRETS_SKOPEO ?? 'skopeo';
}

/** Runs skopeo with argv; on failure throws a SkopeoError naming the endpoint. Never logs argv or output. */
export function runSkopeo(argv: string[], endpoint: string, opts: { signal?: AbortSignal; onSpawn?: (pid: number) => void } = {}): Promise<SkopeoResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(skopeoBinary(), argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      // No user's registries.conf search lists or auth: only the endpoint we name.
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/nonexistent', TMPDIR: process.env.TMPDIR ?? tmpdir() },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => reject(new SkopeoError('other', `cannot run ${skopeoBinary()}: ${e.message}`, endpoint)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve({ stdout: Buffer.concat(out) });
      const msg = skopeoMessage(Buffer.concat(err).toString('utf8')) || `exited with ${code ?? signal}`;
      const c = classifySkopeoMessage(msg);
      reject(new SkopeoError(c.kind, c.cause, endpoint));
    });
  });
}
