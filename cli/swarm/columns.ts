// docker's formatter helpers for swarm lists: the header row context, TruncateID, Ellipsis, and the row context
// built from named methods (MarshalJSON gives {{json .}} every method without arguments).
import { displayWidth } from '../format/display-width.js';
import { GoMap, GoStruct, type GoMethod, type GoValue } from '../format/go-values.js';

/** formatter.SubHeaderContext with its Label method. */
export function subHeader(entries: Array<[string, string]>): GoMap {
  const label = (name: GoValue): GoValue => {
    const parts = String(name).split('.');
    return parts[parts.length - 1]!.replace(/[-_]/g, ' ');
  };
  return new GoMap(new Map<string, GoValue>(entries), 'formatter.SubHeaderContext', false, { Label: label });
}

export function rowContext(typeName: string, methods: Record<string, GoMethod>): GoStruct {
  const marshal = (): GoValue => {
    const m = new Map<string, GoValue>();
    for (const [name, fn] of Object.entries(methods)) if (fn.length === 0) m.set(name, fn());
    return new GoMap(m, 'map[string]interface {}');
  };
  return new GoStruct(typeName, [], methods, marshal);
}

/** formatter.TruncateID: what follows a "sha256:"-like prefix, cut to 12 characters. */
export function truncateID(id: string): string {
  const colon = id.indexOf(':');
  const s = colon >= 0 ? id.slice(colon + 1) : id;
  return s.length > 12 ? s.slice(0, 12) : s;
}

/** formatter.Ellipsis: at most maxWidth display columns, the last one "…" when cut. */
export function ellipsis(s: string, maxWidth: number): string {
  if (maxWidth <= 0) return '';
  const runes = [...s];
  if (maxWidth === 1) return runes[0] ?? '';
  if (displayWidth(s) <= maxWidth) return s;
  let out = '';
  let w = 0;
  for (const r of runes) {
    const rw = displayWidth(r);
    if (w + rw > maxWidth - 1) break;
    out += r;
    w += rw;
  }
  return out + '…';
}
