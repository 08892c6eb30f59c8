// Tag -> manifest digest, trying the endpoints dockerd would (mirrors first, then the image's registry), and
// Docker's wording for what went wrong. The manager uses it for GET /distribution, the agent before a pull.
import { createHash } from 'node:crypto';
import { familiarName, familiarString, withDefaultTag, type ImageRef } from './image-ref.js';
import { pullEndpoints, type RegistryEndpoint, type RegistryRules } from './registry-rules.js';
import { inspectArgv, runSkopeo, SkopeoError, withAuthFile, type RegistryAuth, type SkopeoFailureKind } from './skopeo.js';

export interface ResolvedManifest {
  endpoint: RegistryEndpoint;
  /** The manifest's bytes as the registry served them (the digest is over these). */
  raw: Buffer;
  digest: string;
  mediaType: string;
}

/** A registry refused or failed: message is Docker's text (distribution/errors.go), kind what happened. */
export class RegistryError extends Error {
  constructor(
    message: string,
    readonly kind: SkopeoFailureKind,
  ) {
    super(message);
  }
}

/** Docker's texts for a pull/inspect error of ref (moby distribution/errors.go translatePullError). */
export function dockerRegistryMessage(ref: ImageRef, err: SkopeoError): string {
  switch (err.kind) {
    case 'manifest-unknown':
      return `manifest for ${familiarString(withDefaultTag(ref))} not found: ${err.detail}`;
    case 'name-unknown':
      return `repository ${familiarName(ref)} not found: ${err.detail}`;
    case 'denied':
      return `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${err.detail}`;
    default:
      return err.detail;
  }
}

/** The media type a manifest declares (schema2 and OCI both carry it; an OCI manifest may omit it). */
export function manifestMediaType(raw: Buffer): string {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new Error('the registry answered a manifest that is not JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw new Error('the registry answered a manifest that is not a JSON object');
  const o = doc as Record<string, unknown>;
  if (typeof o.mediaType === 'string') return o.mediaType;
  return Array.isArray(o.manifests) ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json';
}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export interface ResolveOptions {
  auth?: RegistryAuth | undefined;
  signal?: AbortSignal;
}

/** Calls fn on each endpoint in order until one answers; the last endpoint's error is the one reported (dockerd). */
export async function tryEndpoints<T>(ref: ImageRef, rules: RegistryRules, fn: (ep: RegistryEndpoint) => Promise<T>): Promise<T> {
  let last: SkopeoError | null = null;
  for (const ep of pullEndpoints(ref, rules)) {
    try {
      return await fn(ep);
    } catch (err) {
      if (!(err instanceof SkopeoError)) throw err;
      last = err;
    }
  }
  throw new RegistryError(dockerRegistryMessage(ref, last!), last!.kind);
}

/** Fetches the manifest ref names (its tag, latest by default, or its digest) and its digest. */
export function resolveManifest(ref: ImageRef, rules: RegistryRules, opts: ResolveOptions = {}): Promise<ResolvedManifest> {
  const r = withDefaultTag(ref);
  return tryEndpoints(r, rules, (ep) =>
    withAuthFile(ep.host, opts.auth, async (authfile) => {
      const { stdout } = await runSkopeo(inspectArgv(ep, r, authfile, 'manifest'), ep.host, opts.signal ? { signal: opts.signal } : {});
      const digest = sha256Digest(stdout);
      if (r.digest !== undefined && r.digest !== digest) throw new SkopeoError('other', `manifest digest ${digest} does not match ${r.digest}`, ep.host);
      return { endpoint: ep, raw: stdout, digest, mediaType: manifestMediaType(stdout) };
    }),
  );
}

/** The image config blob of a single-image manifest at this endpoint (for os/architecture of schema2 images). */
export async function fetchImageConfig(ep: RegistryEndpoint, digest: string, opts: ResolveOptions = {}): Promise<Buffer> {
  return withAuthFile(ep.host, opts.auth, async (authfile) => {
    const { stdout } = await runSkopeo(inspectArgv(ep, { digest }, authfile, 'config'), ep.host, opts.signal ? { signal: opts.signal } : {});
    return stdout;
  });
}
