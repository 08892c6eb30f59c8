// The agent's content-addressed image store (docs/images.md): one OCI layout under STATE/images/oci holds every
// blob once (layers shared between images are shared), each image is unpacked once per manifest digest into
// STATE/images/rootfs/<hex>/rootfs, and images no task uses are garbage-collected. Pulls go by digest through
// skopeo with dockerd's registry rules; concurrent pulls of one image coalesce.
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { canonicalString, familiarString, parseImageRef, withDefaultTag, type ImageRef } from '../../shared/image-ref.js';
import { NO_RULES, type RegistryRules } from '../../shared/registry-rules.js';
import { RegistryError, resolveManifest, tryEndpoints } from '../../shared/registry-resolve.js';
import { copyArgv, runSkopeo, withAuthFile, type RegistryAuth, type SkopeoFailureKind } from '../../shared/skopeo.js';
import { parseImageConfig, type ImageConfig } from './image-config.js';
import { collect, countBlobs, DIGEST_RE, digestForTag, layoutTags, readConfigBlob, removeTag, tagFor, unpack } from './oci-layout.js';

export interface PullOptions {
  /** Registry credentials (X-Registry-Auth); written to a 0600 authfile for skopeo, never argv, never logged. */
  auth?: RegistryAuth | undefined;
  signal?: AbortSignal;
}

/** An image ready to run: its bundle's rootfs is read-only material for the task's overlay (lowerdir). */
export interface StoredImage {
  /** The manifest digest the image is stored under ("sha256:..."). */
  digest: string;
  /** STATE/images/rootfs/<hex>: umoci's bundle (rootfs/, config.json, umoci.json). */
  bundle: string;
  /** bundle/rootfs */
  rootfs: string;
  config: ImageConfig;
}

/**
 * A pull failed. message is what Docker shows for the task ("No such image: busybox:latest"), detail is
 * dockerd's pull error text ("manifest for busybox:nope not found: manifest unknown: manifest unknown").
 */
export class ImagePullError extends Error {
  constructor(
    readonly reference: string,
    readonly kind: SkopeoFailureKind | 'invalid-reference',
    readonly detail: string,
  ) {
    super(`No such image: ${reference}`);
  }
}

export interface GcResult {
  removedImages: string[];
  blobsBefore: number;
  blobsAfter: number;
}

export interface ImageStoreOptions {
  stateDir: string;
  rules?: RegistryRules;
  log?: Logger;
}

export class ImageStore {
  readonly layout: string;
  private readonly rootfsDir: string;
  private readonly rules: RegistryRules;
  private readonly log: Logger | undefined;
  /** Pulls in flight, by requested reference and by digest: callers of the same image share one pull. */
  private readonly byRef = new Map<string, Promise<StoredImage>>();
  private readonly byDigest = new Map<string, Promise<StoredImage>>();
  /** Serialises changes to the layout's index.json (skopeo copy, umoci rm/gc) and unpacking. */
  private layoutQueue: Promise<unknown> = Promise.resolve();

  constructor(opts: ImageStoreOptions) {
    this.layout = join(opts.stateDir, 'images', 'oci');
    this.rootfsDir = join(opts.stateDir, 'images', 'rootfs');
    this.rules = opts.rules ?? NO_RULES;
    this.log = opts.log;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.layoutQueue.then(fn, fn);
    this.layoutQueue = next.catch(() => undefined);
    return next;
  }

  private bundleFor(digest: string): string {
    return join(this.rootfsDir, tagFor(digest).slice('sha256-'.length));
  }

  /** The stored image with this manifest digest, or null; never asks a registry. */
  async get(digest: string): Promise<StoredImage | null> {
    if (!DIGEST_RE.test(digest)) return null;
    const bundle = this.bundleFor(digest);
    try {
      await stat(join(bundle, 'rootfs'));
    } catch {
      return null;
    }
    const config = parseImageConfig(await readConfigBlob(this.layout, tagFor(digest)));
    return { digest, bundle, rootfs: join(bundle, 'rootfs'), config };
  }

  /** Digests of the images unpacked in the store. */
  async list(): Promise<string[]> {
    const names = await readdir(this.rootfsDir).catch(() => [] as string[]);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /**
   * Pulls reference (name[:tag][@digest], Docker's normalisation) unless the store has it: a reference with a digest
   * that is stored needs no registry. Throws ImagePullError with Docker's wording.
   */
  pull(reference: string, opts: PullOptions = {}): Promise<StoredImage> {
    let ref: ImageRef;
    try {
      ref = withDefaultTag(parseImageRef(reference));
    } catch (err) {
      return Promise.reject(new ImagePullError(reference, 'invalid-reference', (err as Error).message));
    }
    const key = canonicalString(ref);
    const running = this.byRef.get(key);
    if (running) return running;
    const p = this.pullRef(ref, opts).finally(() => this.byRef.delete(key));
    this.byRef.set(key, p);
    return p;
  }

  private async pullRef(ref: ImageRef, opts: PullOptions): Promise<StoredImage> {
    const shown = familiarString(ref);
    try {
      const digest = ref.digest ?? (await resolveManifest(ref, this.rules, opts)).digest;
      // Fast path without the layout lock; a gc racing it makes this miss, and fetchAndUnpack checks again under it.
      const have = await this.get(digest).catch(() => null);
      if (have) return have;
      const d = digest;
      const running = this.byDigest.get(d);
      if (running) return await running;
      const p = this.fetchAndUnpack({ ...ref, digest: d }, opts).finally(() => this.byDigest.delete(d));
      this.byDigest.set(d, p);
      return await p;
    } catch (err) {
      if (err instanceof RegistryError) throw new ImagePullError(shown, err.kind, err.message);
      throw err;
    }
  }

  private fetchAndUnpack(ref: ImageRef & { digest: string }, opts: PullOptions): Promise<StoredImage> {
    const digest = ref.digest;
    const tag = tagFor(digest);
    return this.exclusive(async () => {
      await mkdir(this.rootfsDir, { recursive: true, mode: 0o700 });
      const have = await this.get(digest);
      if (have) return have;
      const started = Date.now();
      if (!(await layoutTags(this.layout)).has(tag)) {
        await tryEndpoints(ref, this.rules, (ep) =>
          withAuthFile(ep.host, opts.auth, (authfile) => runSkopeo(copyArgv(ep, digest, this.layout, tag, authfile), ep.host, opts.signal ? { signal: opts.signal } : {})),
        );
      }
      // Unpack beside the final place and rename: a bundle that exists is complete.
      const tmp = join(this.rootfsDir, `.unpack-${tag}-${process.pid}-${Date.now()}`);
      try {
        await unpack(this.layout, tag, tmp);
        await rename(tmp, this.bundleFor(digest));
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      this.log?.info({ image: familiarString(ref), digest, ms: Date.now() - started }, 'image pulled');
      const stored = await this.get(digest);
      if (!stored) throw new Error(`image ${digest} unpacked but not found in the store`);
      return stored;
    });
  }

  /** Removes every image whose digest is not in keep: its unpacked tree, its tag, and blobs no kept image uses. */
  gc(keep: Iterable<string>): Promise<GcResult> {
    const kept = new Set(keep);
    return this.exclusive(async () => {
      const blobsBefore = await countBlobs(this.layout);
      const removed = new Set<string>();
      for (const name of await readdir(this.rootfsDir).catch(() => [] as string[])) {
        const digest = /^[a-f0-9]{64}$/.test(name) ? `sha256:${name}` : null;
        if (digest !== null && kept.has(digest)) continue;
        await rm(join(this.rootfsDir, name), { recursive: true, force: true }); // also leftovers of a crash mid-unpack
        if (digest !== null) removed.add(digest);
      }
      for (const tag of (await layoutTags(this.layout)).keys()) {
        const digest = digestForTag(tag);
        if (digest !== null && kept.has(digest)) continue;
        await removeTag(this.layout, tag);
        if (digest !== null) removed.add(digest);
      }
      if (blobsBefore > 0) await collect(this.layout);
      const blobsAfter = await countBlobs(this.layout);
      if (removed.size > 0) this.log?.info({ removed: [...removed], blobsBefore, blobsAfter }, 'images collected');
      return { removedImages: [...removed], blobsBefore, blobsAfter };
    });
  }
}
