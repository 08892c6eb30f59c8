// Go text/template's lexer (text/template/parse/lex.go) over the template's bytes. The template of a templated
// secret is itself secret: text outside actions stays a byte range of the source Buffer (never a string); only the
// inside of actions (names, literals: the template's code) is decoded to strings.

export type TokKind =
  | 'text' | 'left' | 'right' | 'space' | 'ident' | 'keyword' | 'field' | 'var' | 'dot' | 'string' | 'number'
  | 'bool' | 'nil' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'eof' | 'error';

export interface Token {
  kind: TokKind;
  /** Byte offset in the source. */
  pos: number;
  /** text: the end of the byte range (after trimming); others: unused. */
  end: number;
  /** The token's source text (a string literal's quoted form, an error's message); '' for text tokens. */
  val: string;
}

export const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'break', 'continue', 'define', 'template', 'block']);

const LBRACE = 0x7b;
const RBRACE = 0x7d;
const isSpaceByte = (c: number | undefined): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;
/** Letters, digits and '_' (non-ASCII bytes count as letters: Go allows Unicode letters in names). */
const isAlnum = (c: number | undefined): boolean =>
  c !== undefined && (isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80);

/** Go's `%#U` of a character: U+0023 '#'. */
function charName(src: Buffer, pos: number): string {
  const ch = src.subarray(pos, pos + 4).toString('utf8').codePointAt(0) ?? 0;
  const hex = ch.toString(16).toUpperCase().padStart(4, '0');
  return `U+${hex} '${String.fromCodePoint(ch)}'`;
}

function startsWith(src: Buffer, pos: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (src[pos + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** "{{- ": the left delimiter's trim marker is '-' followed by a space. */
const leftTrim = (src: Buffer, p: number): boolean => src[p] === 0x2d && isSpaceByte(src[p + 1]);
/** " -}}": a space, '-', then the right delimiter. */
const rightTrimDelim = (src: Buffer, p: number): boolean => isSpaceByte(src[p]) && src[p + 1] === 0x2d && src[p + 2] === RBRACE && src[p + 3] === RBRACE;

/** All tokens of a template; lexing stops at the first error (an 'error' token, then 'eof'). */
export function lex(src: Buffer): Token[] {
  const out: Token[] = [];
  let p = 0;
  let trimNext = false; // the previous action ended with " -}}"
  for (;;) {
    let start = p;
    if (trimNext) {
      while (start < src.length && isSpaceByte(src[start])) start++;
      trimNext = false;
    }
    const open = src.indexOf('{{', start);
    const textEnd = open < 0 ? src.length : open;
    let end = textEnd;
    const trimLeft = open >= 0 && leftTrim(src, open + 2);
    if (trimLeft) while (end > start && isSpaceByte(src[end - 1])) end--;
    if (end > start) out.push({ kind: 'text', pos: start, end, val: '' });
    if (open < 0) break;
    p = open + 2 + (trimLeft ? 2 : 0);
    // A comment must sit right against its delimiters: {{/* ... */}}.
    if (startsWith(src, p, '/*')) {
      const close = src.indexOf('*/', p + 2);
      if (close < 0) return fail(out, open, 'unclosed comment');
      p = close + 2;
      if (rightTrimDelim(src, p)) {
        p += 4;
        trimNext = true;
      } else if (src[p] === RBRACE && src[p + 1] === RBRACE) p += 2;
      else return fail(out, open, 'comment ends before closing delimiter');
      continue;
    }
    out.push({ kind: 'left', pos: open, end: p, val: '{{' });
    const r = lexAction(src, p, out);
    if (r < 0) return out;
    p = r;
    const last = out[out.length - 1]!;
    if (last.val === '-}}') trimNext = true;
  }
  out.push({ kind: 'eof', pos: src.length, end: src.length, val: '' });
  return out;
}

function fail(out: Token[], pos: number, msg: string): Token[] {
  out.push({ kind: 'error', pos, end: pos, val: msg });
  out.push({ kind: 'eof', pos, end: pos, val: '' });
  return out;
}

/** Lexes one action from p (after "{{"); returns the offset after its "}}", or -1 after an error token. */
function lexAction(src: Buffer, p: number, out: Token[]): number {
  let parens = 0;
  const push = (kind: TokKind, pos: number, end: number): void => {
    out.push({ kind, pos, end, val: src.subarray(pos, end).toString('utf8') });
  };
  for (;;) {
    if (p >= src.length) {
      fail(out, p, 'unclosed action');
      return -1;
    }
    if (rightTrimDelim(src, p) || (src[p] === RBRACE && src[p + 1] === RBRACE)) {
      if (parens > 0) {
        fail(out, p, 'unclosed left paren');
        return -1;
      }
      const trim = src[p] !== RBRACE;
      out.push({ kind: 'right', pos: p, end: p + (trim ? 4 : 2), val: trim ? '-}}' : '}}' });
      return p + (trim ? 4 : 2);
    }
    const c = src[p]!;
    const s = p;
    if (isSpaceByte(c)) {
      while (p < src.length && isSpaceByte(src[p])) p++;
      // " -}}" after spaces: the last space belongs to the delimiter.
      if (src[p] === 0x2d && src[p + 1] === RBRACE && src[p + 2] === RBRACE) p--;
      if (p > s) push('space', s, p);
      continue;
    }
    if (c === 0x22 /* " */) {
      p++;
      while (p < src.length && src[p] !== 0x22) {
        if (src[p] === 0x5c /* \ */) p++;
        if (src[p] === 0x0a || p >= src.length) {
          fail(out, s, 'unterminated quoted string');
          return -1;
        }
        p++;
      }
      if (p >= src.length) {
        fail(out, s, 'unterminated quoted string');
        return -1;
      }
      p++;
      push('string', s, p);
      continue;
    }
    if (c === 0x60 /* ` */) {
      const close = src.indexOf('`', p + 1);
      if (close < 0) {
        fail(out, s, 'unterminated raw quoted string');
        return -1;
      }
      p = close + 1;
      push('string', s, p);
      continue;
    }
    if (c === 0x24 /* $ */) {
      p++;
      while (isAlnum(src[p])) p++;
      push('var', s, p);
      continue;
    }
    if (c === 0x2e /* . */) {
      if (isDigit(src[p + 1])) {
        p = scanNumber(src, p);
        if (isAlnum(src[p])) {
          while (isAlnum(src[p]) || src[p] === 0x2e) p++;
          fail(out, s, `bad number syntax: ${JSON.stringify(src.subarray(s, p).toString('utf8'))}`);
          return -1;
        }
        push('number', s, p);
        continue;
      }
      p++;
      while (isAlnum(src[p])) p++;
      push(p - s === 1 ? 'dot' : 'field', s, p);
      continue;
    }
    if (isDigit(c) || ((c === 0x2d || c === 0x2b) && isDigit(src[p + 1]))) {
      p = scanNumber(src, p);
      if (isAlnum(src[p])) {
        while (isAlnum(src[p]) || src[p] === 0x2e) p++;
        fail(out, s, `bad number syntax: ${JSON.stringify(src.subarray(s, p).toString('utf8'))}`);
        return -1;
      }
      push('number', s, p);
      continue;
    }
    if (isAlnum(c)) {
      while (isAlnum(src[p])) p++;
      const word = src.subarray(s, p).toString('utf8');
      const kind: TokKind = KEYWORDS.has(word) ? 'keyword' : word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'ident';
      push(kind, s, p);
      continue;
    }
    p++;
    switch (c) {
      case 0x7c:
        push('pipe', s, p);
        continue;
      case 0x28:
        parens++;
        push('lparen', s, p);
        continue;
      case 0x29:
        if (parens === 0) {
          fail(out, s, 'unexpected right paren');
          return -1;
        }
        parens--;
        push('rparen', s, p);
        continue;
      case 0x2c:
        push('comma', s, p);
        continue;
      case 0x3d:
        push('assign', s, p);
        continue;
      case 0x3a:
        if (src[p] !== 0x3d) {
          fail(out, s, 'expected :=');
          return -1;
        }
        p++;
        push('declare', s, p);
        continue;
      case LBRACE:
      default:
        fail(out, s, `bad character ${charName(src, s)}`);
        return -1;
    }
  }
}

/** Go's number syntax, loosely: digits, '.', exponents, hex/octal/binary prefixes and '_'. */
function scanNumber(src: Buffer, p: number): number {
  if (src[p] === 0x2b || src[p] === 0x2d) p++;
  if (src[p] === 0x30 && (src[p + 1] === 0x78 || src[p + 1] === 0x58)) {
    p += 2;
    while (src[p] !== undefined && /[0-9a-fA-F_]/.test(String.fromCharCode(src[p]!))) p++;
    return p;
  }
  while (isDigit(src[p]) || src[p] === 0x5f) p++;
  if (src[p] === 0x2e) {
    p++;
    while (isDigit(src[p]) || src[p] === 0x5f) p++;
  }
  if (src[p] === 0x65 || src[p] === 0x45) {
    const q = src[p + 1] === 0x2b || src[p + 1] === 0x2d ? p + 2 : p + 1;
    if (isDigit(src[q])) {
      p = q;
      while (isDigit(src[p])) p++;
    }
  }
  return p;
}
