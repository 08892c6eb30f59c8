// Image references as Docker parses and normalises them (distribution/reference): `busybox` is
// docker.io/library/busybox, a first component with a '.' or ':' or equal to "localhost" names the registry.
// Used by the manager (GET /distribution) and the agent (pulls); docs/images.md.

export const DOCKER_HUB = 'docker.io';

export interface ImageRef {
  /** Registry host[:port], normalised: Docker Hub is "docker.io". */
  domain: string;
  /** Repository path inside the registry, e.g. "library/busybox". */
  path: string;
  /** The tag as written, if any (no default here: see withDefaultTag). */
  tag?: string;
  /** "sha256:<64 hex>" when the reference pins a digest. */
  digest?: string;
}

export class ImageRefError extends Error {}

// distribution/reference's grammar.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_NAME = 255;

/** Parses a reference as ParseNormalizedNamed does; throws Docker's "invalid reference format" texts. */
export function parseImageRef(input: string): ImageRef {
  const bad = (why = ''): ImageRefError => new ImageRefError(`invalid reference format${why}`);
  if (input === '') throw bad();
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad();
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw bad();
  }
  if (rest === '') throw bad();
  const slash = rest.indexOf('/');
  let domain = DOCKER_HUB;
  let path = rest;
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
      if (!DOMAIN.test(domain)) throw bad();
    }
  }
  if (domain === 'index.docker.io') domain = DOCKER_HUB;
  if (path !== path.toLowerCase()) throw bad(': repository name must be lowercase');
  const components = path.split('/');
  if (!components.every((c) => COMPONENT.test(c))) throw bad();
  if (domain === DOCKER_HUB && components.length === 1) path = `library/${path}`;
  if (domain.length + 1 + path.length > MAX_NAME) throw bad(': repository name must not be more than 255 characters');
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Docker's TagNameOnly: a reference with neither tag nor digest gets ":latest". */
export function withDefaultTag(ref: ImageRef): ImageRef {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

/** The repository as Docker shows it: "busybox", "user/app", "127.0.0.1:5000/app". */
export function familiarName(ref: ImageRef): string {
  if (ref.domain !== DOCKER_HUB) return `${ref.domain}/${ref.path}`;
  return ref.path.startsWith('library/') && ref.path.split('/').length === 2 ? ref.path.slice('library/'.length) : ref.path;
}

/** The reference as Docker shows it: familiar name, then ":tag" and "@digest" if present. */
export function familiarString(ref: ImageRef): string {
  return familiarName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** The fully qualified reference: "docker.io/library/busybox:latest". */
export function canonicalString(ref: ImageRef): string {
  return `${ref.domain}/${ref.path}` + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** The host part of a domain ("127.0.0.1:5000" -> "127.0.0.1", "[::1]:5000" -> "::1"). */
export function domainHost(domain: string): string {
  if (domain.startsWith('[')) return domain.slice(1, domain.indexOf(']'));
  const c = domain.lastIndexOf(':');
  return c >= 0 ? domain.slice(0, c) : domain;
}
