// GET /distribution/{name}/json (docker-swarm-wave2.md §4.1): the manifest digest and platforms of an image, asked
// of its registry with dockerd's rules, so that `docker service create` pins image@sha256:... without a warning.
import type { IncomingMessage } from 'node:http';
import { ImageRefError, parseImageRef, withDefaultTag, type ImageRef } from '../../shared/image-ref.js';
import type { RegistryRules } from '../../shared/registry-rules.js';
import { fetchImageConfig, RegistryError, resolveManifest, type ResolvedManifest } from '../../shared/registry-resolve.js';
import { SkopeoError, type RegistryAuth } from '../../shared/skopeo.js';
import { decodeRegistryAuth } from '../../shared/registry-auth.js';
import { ApiError, sendJson } from './http.js';
import type { Router } from './router.js';

const SCHEMA2 = 'application/vnd.docker.distribution.manifest.v2+json';
const INDEX_TYPES = new Set(['application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.index.v1+json']);

function parseName(name: string): ImageRef {
  // A bare image ID (digest with no name) cannot be looked up in a registry.
  if (/^(sha256:)?[a-f0-9]{64}$/.test(name)) throw new ApiError(400, 'no manifest found for full image ID');
  try {
    return withDefaultTag(parseImageRef(name));
  } catch (err) {
    if (err instanceof ImageRefError) throw new ApiError(400, err.message);
    throw err;
  }
}

type Platform = Record<string, unknown>;

/** Platforms as Docker reports them: an index's children verbatim, a schema2 image's config, none for OCI single. */
async function platforms(m: ResolvedManifest, auth: RegistryAuth | undefined): Promise<Platform[]> {
  const doc = JSON.parse(m.raw.toString('utf8')) as Record<string, unknown>;
  if (INDEX_TYPES.has(m.mediaType)) {
    const list = Array.isArray(doc.manifests) ? (doc.manifests as Array<Record<string, unknown>>) : [];
    return list.map((d) => (typeof d.platform === 'object' && d.platform !== null ? (d.platform as Platform) : {}));
  }
  if (m.mediaType !== SCHEMA2) return [];
  const cfg = JSON.parse((await fetchImageConfig(m.endpoint, m.digest, auth ? { auth } : {})).toString('utf8')) as Record<string, unknown>;
  const p: Platform = { architecture: cfg.architecture ?? '', os: cfg.os ?? '' };
  if (cfg['os.version']) p['os.version'] = cfg['os.version'];
  if (Array.isArray(cfg['os.features']) && cfg['os.features'].length > 0) p['os.features'] = cfg['os.features'];
  if (cfg.variant) p.variant = cfg.variant;
  return [p];
}

function statusFor(kind: RegistryError['kind']): number {
  // moby maps a registry's not-found and denied answers to 404 (errdefs.NotFound), the rest to 500.
  return kind === 'manifest-unknown' || kind === 'name-unknown' || kind === 'denied' ? 404 : 500;
}

export interface DistributionDeps {
  rules: () => RegistryRules;
}

export function registerDistributionRoutes(router: Router, deps: DistributionDeps): void {
  router.add('GET', '/distribution/*name/json', async (ctx) => {
    const ref = parseName(ctx.params.name ?? '');
    const auth = decodeRegistryAuth((ctx.req as IncomingMessage).headers['x-registry-auth']);
    try {
      const m = await resolveManifest(ref, deps.rules(), auth ? { auth } : {});
      sendJson(ctx.res, 200, {
        Descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.raw.length },
        Platforms: await platforms(m, auth),
      });
    } catch (err) {
      if (err instanceof RegistryError) throw new ApiError(statusFor(err.kind), err.message);
      if (err instanceof SkopeoError) throw new ApiError(500, err.detail);
      throw err;
    }
  });
}
