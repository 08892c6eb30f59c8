// Reading the image store's one OCI layout (image-spec image-layout.md): index.json, manifests, config blobs, and
// the umoci calls that change it. Tags are "sha256-<hex>", one per image digest.
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;

export class LayoutError extends Error {}

/** The layout tag that holds image digest ("sha256:abc" -> "sha256-abc"). */
export function tagFor(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new LayoutError(`not a sha256 digest: ${digest}`);
  return `sha256-${m[1]!}`;
}

/** The digest a layout tag stands for, or null for tags the store did not write. */
export function digestForTag(tag: string): string | null {
  const m = /^sha256-([a-f0-9]{64})$/.exec(tag);
  return m ? `sha256:${m[1]!}` : null;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  annotations?: Record<string, string>;
}

function descriptors(v: unknown, what: string): Descriptor[] {
  if (!Array.isArray(v)) throw new LayoutError(`${what} is not a list`);
  return v.map((d, i) => {
    if (typeof d !== 'object' || d === null) throw new LayoutError(`${what}[${i}] is not an object`);
    const o = d as Record<string, unknown>;
    if (typeof o.digest !== 'string' || !DIGEST_RE.test(o.digest)) throw new LayoutError(`${what}[${i}].digest is not a sha256 digest`);
    const annotations = typeof o.annotations === 'object' && o.annotations !== null ? (o.annotations as Record<string, string>) : undefined;
    return { mediaType: typeof o.mediaType === 'string' ? o.mediaType : '', digest: o.digest, ...(annotations ? { annotations } : {}) };
  });
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  const doc: unknown = JSON.parse(await readFile(path, 'utf8'));
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new LayoutError(`${path} is not a JSON object`);
  return doc as Record<string, unknown>;
}

export function blobPath(layout: string, digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new LayoutError(`not a sha256 digest: ${digest}`);
  return join(layout, 'blobs', 'sha256', m[1]!);
}

/** Tag -> manifest descriptor, from index.json (empty when the layout does not exist yet). */
export async function layoutTags(layout: string): Promise<Map<string, Descriptor>> {
  let index: Record<string, unknown>;
  try {
    index = await readJson(join(layout, 'index.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  const out = new Map<string, Descriptor>();
  for (const d of descriptors(index.manifests ?? [], 'index.json manifests')) {
    const tag = d.annotations?.['org.opencontainers.image.ref.name'];
    if (tag !== undefined) out.set(tag, d);
  }
  return out;
}

/** The config blob of the image manifest a tag names (the store copies single-platform images). */
export async function readConfigBlob(layout: string, tag: string): Promise<Buffer> {
  const d = (await layoutTags(layout)).get(tag);
  if (!d) throw new LayoutError(`no tag ${tag} in the image layout`);
  const manifest = await readJson(blobPath(layout, d.digest));
  const cfg = manifest.config as Record<string, unknown> | undefined;
  if (!cfg || typeof cfg.digest !== 'string') throw new LayoutError(`manifest ${d.digest} has no config descriptor`);
  return readFile(blobPath(layout, cfg.digest));
}

/** How many blobs the layout holds (tests and gc reports). */
export async function countBlobs(layout: string): Promise<number> {
  try {
    return (await readdir(join(layout, 'blobs', 'sha256'))).length;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

async function umoci(args: string[]): Promise<void> {
  try {
    await run(process.env.RUNSECRETS_UMOCI ?? 'umoci', args, { maxBuffer: 4 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new LayoutError(`umoci ${args[0]} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** Unpacks tag into bundle dir dest (dest/rootfs, dest/config.json); dest must not exist. */
export function unpack(layout: string, tag: string, dest: string): Promise<void> {
  const rootless = process.getuid?.() === 0 ? [] : ['--rootless'];
  return umoci(['unpack', ...rootless, '--image', `${layout}:${tag}`, dest]);
}

/** Removes a tag (its blobs stay until collect). */
export function removeTag(layout: string, tag: string): Promise<void> {
  return umoci(['rm', '--image', `${layout}:${tag}`]);
}

/** Removes every blob no tag reaches. */
export function collect(layout: string): Promise<void> {
  return umoci(['gc', '--layout', layout]);
}
