// The bits of distribution/reference that docker's client applies to image names: a bare name gets ":latest"
// (imageWithTagString, before create and update), and lists show the familiar "name:tag" without a digest.

// reference's grammar, condensed: [domain/]path[:tag][@digest], path components lower-case.
const DOMAIN = String.raw`(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`;
const COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`;
const REF = new RegExp(
  String.raw`^((?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*)(?::([\w][\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`,
);

interface Parsed {
  /** Familiar name: docker.io/library/ and docker.io/ dropped. */
  name: string;
  tag?: string;
  digest?: string;
}

function parse(image: string): Parsed | null {
  const m = REF.exec(image);
  if (!m) return null;
  let name = m[1]!;
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const hasDomain = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
  if (hasDomain && (first === 'docker.io' || first === 'index.docker.io')) {
    name = name.slice(slash + 1);
    if (name.startsWith('library/') && name.split('/').length === 2) name = name.slice('library/'.length);
  }
  if (name.length > 255) return null;
  return { name, tag: m[2], digest: m[3] };
}

/** client.imageWithTagString: the familiar form, with ":latest" when there is neither tag nor digest. */
export function imageWithLatest(image: string): string {
  const p = parse(image);
  if (!p) return image;
  if (p.tag === undefined && p.digest === undefined) return `${p.name}:latest`;
  return `${p.name}${p.tag !== undefined ? `:${p.tag}` : ''}${p.digest !== undefined ? `@${p.digest}` : ''}`;
}

/** What `service ls` and `service ps` show: a tagged reference as familiar "name:tag" without its digest. */
export function displayImage(image: string): string {
  const p = parse(image);
  if (!p || p.tag === undefined) return image;
  return `${p.name}:${p.tag}`;
}
