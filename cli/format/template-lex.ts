// Go text/template's lexer, for the subset docker's --format needs: text, {{actions}} with trim markers, comments,
// fields, variables, literals, pipes and parentheses.

export class TemplateError extends Error {}

export type TokKind = 'text' | 'left' | 'right' | 'field' | 'var' | 'ident' | 'dot' | 'string' | 'number' | 'bool' | 'nil'
  | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'keyword' | 'eof';

export interface Token {
  kind: TokKind;
  val: string;
  pos: number;
}

// Go number literals as templates accept them (sign, hex/octal/binary, decimals, exponents, underscores).
const NUMBER = /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|\d[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?\d+)?|\.\d+)/;
const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}_]/u.test(c);

export function lineOf(src: string, pos: number): number {
  return 1 + (src.slice(0, pos).match(/\n/g)?.length ?? 0);
}

export function lex(src: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  const fail = (msg: string, pos: number): never => {
    throw new TemplateError(`template: :${lineOf(src, pos)}: ${msg}`);
  };
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    const textPos = i;
    if (open < 0) {
      toks.push({ kind: 'text', val: text, pos: textPos });
      break;
    }
    let j = open + 2;
    const trimLeft = src[j] === '-' && isSpace(src[j + 1]);
    if (trimLeft) {
      text = text.replace(/[ \t\r\n]+$/, '');
      j += 2;
    }
    if (text.length > 0) toks.push({ kind: 'text', val: text, pos: textPos });
    // Comments: {{/* ... */}}, only as the whole action.
    let k = j;
    while (isSpace(src[k]) && trimLeft) k++;
    if (src.startsWith('/*', k)) {
      const end = src.indexOf('*/', k + 2);
      if (end < 0) fail('unclosed comment', k);
      let m = end + 2;
      let trimRight = false;
      if (src[m] === ' ' && src[m + 1] === '-' && src.startsWith('}}', m + 2)) {
        trimRight = true;
        m += 2;
      }
      if (!src.startsWith('}}', m)) fail('comment ends before closing delimiter', m);
      i = m + 2;
      if (trimRight) while (isSpace(src[i])) i++;
      continue;
    }
    toks.push({ kind: 'left', val: '{{', pos: open });
    // Tokens inside the action.
    for (;;) {
      if (j >= src.length) fail('unclosed action', j);
      const c = src[j]!;
      if (isSpace(c)) {
        if (src[j + 1] === '-' && src.startsWith('}}', j + 2) && isSpace(c)) {
          toks.push({ kind: 'right', val: '}}', pos: j + 2 });
          j += 4;
          while (isSpace(src[j])) j++;
          break;
        }
        j++;
        continue;
      }
      if (src.startsWith('}}', j)) {
        toks.push({ kind: 'right', val: '}}', pos: j });
        j += 2;
        break;
      }
      const start = j;
      if (c === '|') {
        toks.push({ kind: 'pipe', val: c, pos: j++ });
      } else if (c === '(') {
        toks.push({ kind: 'lparen', val: c, pos: j++ });
      } else if (c === ')') {
        toks.push({ kind: 'rparen', val: c, pos: j++ });
      } else if (c === ',') {
        toks.push({ kind: 'comma', val: c, pos: j++ });
      } else if (c === ':' && src[j + 1] === '=') {
        toks.push({ kind: 'declare', val: ':=', pos: j });
        j += 2;
      } else if (c === '=') {
        toks.push({ kind: 'assign', val: '=', pos: j++ });
      } else if (c === '"') {
        j++;
        while (j < src.length && src[j] !== '"') {
          if (src[j] === '\n') fail('unterminated quoted string', start);
          j += src[j] === '\\' ? 2 : 1;
        }
        if (j >= src.length) fail('unterminated quoted string', start);
        j++;
        toks.push({ kind: 'string', val: unquote(src.slice(start, j)), pos: start });
      } else if (c === '`') {
        const end = src.indexOf('`', j + 1);
        if (end < 0) fail('unterminated raw quoted string', start);
        toks.push({ kind: 'string', val: src.slice(j + 1, end), pos: start });
        j = end + 1;
      } else if (c === '$') {
        j++;
        while (isAlnum(src[j])) j++;
        toks.push({ kind: 'var', val: src.slice(start, j), pos: start });
      } else if (c === '.' && isAlnum(src[j + 1]) && !/[0-9]/.test(src[j + 1]!)) {
        j++;
        while (isAlnum(src[j])) j++;
        toks.push({ kind: 'field', val: src.slice(start + 1, j), pos: start });
      } else if (c === '.') {
        toks.push({ kind: 'dot', val: '.', pos: j++ });
      } else if (/[0-9]/.test(c) || ((c === '-' || c === '+') && /[0-9]/.test(src[j + 1] ?? ''))) {
        const m = NUMBER.exec(src.slice(j))!;
        j += m[0].length;
        toks.push({ kind: 'number', val: src.slice(start, j), pos: start });
      } else if (isAlnum(c)) {
        while (isAlnum(src[j])) j++;
        const word = src.slice(start, j);
        const kind: TokKind = KEYWORDS.has(word) ? 'keyword'
          : word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'ident';
        toks.push({ kind, val: word, pos: start });
      } else {
        fail(`unexpected "${c}" in command`, j);
      }
    }
    i = j;
  }
  toks.push({ kind: 'eof', val: '', pos: src.length });
  return toks;
}

function unquote(q: string): string {
  try {
    return JSON.parse(q.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1').replace(/\\([abv'])/g, (_m, ch: string) =>
      ch === 'a' ? '\\u0007' : ch === 'b' ? '\\b' : ch === 'v' ? '\\u000b' : "'")) as string;
  } catch {
    return q.slice(1, -1);
  }
}
