// Go's string literal syntax both ways: unquote (the template's "..." and `...` literals) and strconv.Quote (%q).

const SIMPLE: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"' };

/** The value of a Go string literal ("..." with escapes, or `raw`), or null when it is not one. */
export function unquote(q: string): string | null {
  if (q.length >= 2 && q.startsWith('`') && q.endsWith('`')) return q.slice(1, -1).replace(/\r/g, '');
  if (q.length < 2 || !q.startsWith('"') || !q.endsWith('"')) return null;
  const body = q.slice(1, -1);
  let out = '';
  const bytes: number[] = []; // \x and octal escapes are bytes (UTF-8 decoded together)
  const flush = (): void => {
    if (bytes.length > 0) out += Buffer.from(bytes).toString('utf8');
    bytes.length = 0;
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      flush();
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) return null;
    if (e in SIMPLE) {
      if (e === "'") return null; // \' is not valid in a "..." literal
      flush();
      out += SIMPLE[e];
    } else if (e === 'x') {
      const h = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) return null;
      bytes.push(Number.parseInt(h, 16));
      i += 2;
    } else if (/[0-7]/.test(e)) {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o) || Number.parseInt(o, 8) > 255) return null;
      bytes.push(Number.parseInt(o, 8));
      i += 2;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      const h = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) return null;
      const cp = Number.parseInt(h, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return null;
      flush();
      out += String.fromCodePoint(cp);
      i += n;
    } else return null;
  }
  flush();
  return out;
}

/** Go's strconv.Quote: printable characters as they are, the usual escapes, \xNN for other bytes below 0x80. */
export function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp === 0xfffd || (cp >= 0x80 && cp < 0xa0)) out += cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
