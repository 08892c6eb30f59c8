// Raw JSON re-layout the way Go's encoding/json Indent and Compact do it: tokens are copied byte for byte (key
// order, number spelling and escapes stay as the server sent them); only whitespace outside strings changes.
// docker's inspect prints the daemon's raw bytes through these, so we must not parse and re-serialise.

function layout(src: string, indent: string | null): string {
  let out = '';
  let depth = 0;
  let i = 0;
  // True right after '[' or '{': an immediately closing bracket stays on the same line ("[]", "{}").
  let justOpened = false;
  const newline = (): string => (indent === null ? '' : '\n' + indent.repeat(depth));
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      if (justOpened) out += newline();
      justOpened = false;
      out += src.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (ch === '{' || ch === '[') {
      if (justOpened) out += newline();
      out += ch;
      depth++;
      justOpened = true;
    } else if (ch === '}' || ch === ']') {
      depth--;
      if (!justOpened) out += newline();
      out += ch;
      justOpened = false;
    } else if (ch === ',') {
      out += ',' + newline();
    } else if (ch === ':') {
      out += indent === null ? ':' : ': ';
    } else {
      if (justOpened) out += newline();
      justOpened = false;
      let j = i;
      while (j < src.length && !' \t\n\r,:]}'.includes(src[j]!)) j++;
      out += src.slice(i, j);
      i = j;
      continue;
    }
    i++;
  }
  return out;
}

/** json.Indent(dst, src, "", indent). */
export function indentJSON(src: string, indent = '    '): string {
  return layout(src, indent);
}

/** json.Compact. */
export function compactJSON(src: string): string {
  return layout(src, null);
}
