// Go text/template's parser (text/template/parse/parse.go): tokens into the tree of ast.ts, with Go's parse error
// texts (`template: NAME:LINE: function "x" not defined`). Functions are checked at parse time, as Go does.
// Not supported (parse errors naming them): define, template, block.
import type { Arg, Command, Node, Pipe, Variable } from './ast.js';
import { lex, type Token } from './lexer.js';
import { unquote } from './quote.js';

export class TemplateError extends Error {
  override name = 'TemplateError';
}

export interface ParsedTemplate {
  name: string;
  /** The source (the parse tree's text nodes are ranges of it). */
  src: Buffer;
  root: Node[];
}

/** Go's line of a byte offset: 1 + the newlines before it. */
export function lineOf(src: Buffer, pos: number): number {
  let n = 1;
  for (let i = src.indexOf(0x0a); i >= 0 && i < pos; i = src.indexOf(0x0a, i + 1)) n++;
  return n;
}

/** Go's ErrorContext location: NAME:LINE:COL, COL the byte offset in its line (0-based, as Go prints it). */
export function locationOf(name: string, src: Buffer, pos: number): string {
  const nl = src.lastIndexOf(0x0a, pos - 1);
  const col = pos === 0 || nl < 0 ? pos : pos - (nl + 1);
  return `${name}:${lineOf(src, pos)}:${col}`;
}

export function parse(name: string, src: Buffer, funcs: ReadonlySet<string>): ParsedTemplate {
  return { name, src, root: new Parser(name, src, funcs).parseRoot() };
}

/** Go's item String(): EOF, an error's text, <keyword>, or the quoted token. */
function tokenString(k: Token): string {
  if (k.kind === 'eof') return 'EOF';
  if (k.kind === 'error') return k.val;
  if (k.kind === 'keyword' || k.kind === 'nil' || k.kind === 'dot') {
    // Go's item types after itemKeyword print as <name>.
    return `<${k.val}>`;
  }
  const q = JSON.stringify(k.val);
  return k.val.length > 10 ? `${JSON.stringify(k.val.slice(0, 10))}...` : q;
}

class Parser {
  private readonly toks: Token[];
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private lastPos = 0;

  constructor(private readonly name: string, private readonly src: Buffer, private readonly funcs: ReadonlySet<string>) {
    this.toks = lex(src);
  }

  private error(msg: string): never {
    throw new TemplateError(`template: ${this.name}:${lineOf(this.src, this.lastPos)}: ${msg}`);
  }

  private next(): Token {
    const k = this.toks[Math.min(this.i, this.toks.length - 1)]!;
    this.i++;
    this.lastPos = k.pos;
    if (k.kind === 'error') this.error(k.val);
    return k;
  }
  private peek(): Token {
    const k = this.toks[Math.min(this.i, this.toks.length - 1)]!;
    this.lastPos = k.pos;
    if (k.kind === 'error') this.error(k.val);
    return k;
  }
  private nextNonSpace(): Token {
    let k = this.next();
    while (k.kind === 'space') k = this.next();
    return k;
  }
  private peekNonSpace(): Token {
    const k = this.nextNonSpace();
    this.i--;
    return k;
  }
  private unexpected(k: Token, context: string): never {
    this.error(`unexpected ${tokenString(k)} in ${context}`);
  }
  private expect(kind: Token['kind'], context: string): Token {
    const k = this.nextNonSpace();
    if (k.kind !== kind) this.unexpected(k, context);
    return k;
  }

  parseRoot(): Node[] {
    const list: Node[] = [];
    while (this.peek().kind !== 'eof') {
      const n = this.textOrAction();
      if (n === 'end' || n === 'else') this.error(`unexpected {{${n}}}`);
      list.push(n);
    }
    return list;
  }

  /** A list up to {{end}} or {{else}}; which of the two ended it. */
  private itemList(): { list: Node[]; next: 'end' | 'else' } {
    const list: Node[] = [];
    while (this.peekNonSpace().kind !== 'eof') {
      const n = this.textOrAction();
      if (n === 'end' || n === 'else') return { list, next: n };
      list.push(n);
    }
    this.error('unexpected EOF');
  }

  private textOrAction(): Node | 'end' | 'else' {
    const k = this.nextNonSpace();
    if (k.kind === 'text') return { t: 'text', pos: k.pos, start: k.pos, end: k.end };
    if (k.kind === 'left') return this.action();
    this.unexpected(k, 'input');
  }

  private action(): Node | 'end' | 'else' {
    const k = this.nextNonSpace();
    if (k.kind === 'keyword') {
      switch (k.val) {
        case 'if':
        case 'with':
        case 'range':
          return this.control(k.val, k.pos);
        case 'end':
          this.expect('right', 'end');
          return 'end';
        case 'else': {
          const p = this.peekNonSpace();
          // "{{else if" / "{{else with": an else whose list is the if/with that follows (Go does the same).
          if (p.kind === 'keyword' && (p.val === 'if' || p.val === 'with')) return 'else';
          this.expect('right', 'else');
          return 'else';
        }
        case 'break':
        case 'continue':
          if (this.rangeDepth === 0) this.error(`{{${k.val}}} outside {{range}}`);
          this.expect('right', k.val);
          return { t: k.val, pos: k.pos };
        default:
          this.error(`{{${k.val}}} is not supported by runsecrets' template engine`);
      }
    }
    this.i--;
    const pos = this.peek().pos;
    return { t: 'action', pos, pipe: this.pipeline('command', 'right') };
  }

  private control(kind: 'if' | 'with' | 'range', pos: number): Node {
    const mark = this.vars.length;
    const pipe = this.pipeline(kind, 'right');
    if (kind === 'range') this.rangeDepth++;
    const { list, next } = this.itemList();
    if (kind === 'range') this.rangeDepth--;
    let elseList: Node[] | null = null;
    if (next === 'else') {
      const p = this.peekNonSpace();
      if ((kind === 'if' || kind === 'with') && p.kind === 'keyword' && p.val === kind) {
        this.nextNonSpace();
        elseList = [this.control(kind, p.pos)];
      } else {
        const e = this.itemList();
        if (e.next !== 'end') this.error('expected end; found {{else}}');
        elseList = e.list;
      }
    }
    this.vars.length = mark;
    return { t: kind, pos, pipe, list, elseList };
  }

  private pipeline(context: string, end: 'right' | 'rparen'): Pipe {
    const pipe: Pipe = { pos: this.peekNonSpace().pos, decl: [], isAssign: false, cmds: [] };
    for (;;) {
      const v = this.peekNonSpace();
      if (v.kind !== 'var') break;
      const save = this.i;
      this.nextNonSpace();
      const n = this.peekNonSpace();
      if (n.kind === 'declare' || n.kind === 'assign') {
        this.nextNonSpace();
        pipe.isAssign = n.kind === 'assign';
        pipe.decl.push({ t: 'var', pos: v.pos, ident: [v.val] });
        if (pipe.isAssign) this.useVar(v.val);
        else this.vars.push(v.val);
        break;
      }
      if (n.kind === 'comma') {
        this.nextNonSpace();
        pipe.decl.push({ t: 'var', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const a = this.peekNonSpace();
          if (a.kind === 'var' || a.kind === 'right' || a.kind === 'rparen') continue;
          this.error('range can only initialize variables');
        }
        this.error(`too many declarations in ${context}`);
      }
      this.i = save;
      break;
    }
    for (;;) {
      const k = this.nextNonSpace();
      if (k.kind === end) {
        if (pipe.cmds.length === 0) this.error(`missing value for ${context}`);
        pipe.cmds.slice(1).forEach((c, idx) => {
          const a = c.args[0]!;
          if (a.t === 'bool' || a.t === 'dot' || a.t === 'nil' || a.t === 'number' || a.t === 'string') {
            this.error(`non executable command in pipeline stage ${idx + 2}`);
          }
        });
        return pipe;
      }
      if (['bool', 'dot', 'field', 'ident', 'number', 'nil', 'string', 'var', 'lparen'].includes(k.kind)) {
        this.i--;
        pipe.cmds.push(this.command());
        continue;
      }
      this.unexpected(k, context);
    }
  }

  private command(): Command {
    const cmd: Command = { pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const k = this.next();
      if (k.kind === 'space') continue;
      if (k.kind === 'right' || k.kind === 'rparen') this.i--;
      else if (k.kind !== 'pipe') this.unexpected(k, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.error('empty command');
    return cmd;
  }

  private operand(): Arg | null {
    const node = this.term();
    if (!node) return null;
    if (this.peek().kind !== 'field') return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().kind === 'field') fields.push(this.next().val.slice(1));
    switch (node.t) {
      case 'field':
        return { t: 'field', pos: node.pos, ident: [...node.ident, ...fields] };
      case 'var':
        return { t: 'var', pos: node.pos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.error(`unexpected . after term ${JSON.stringify(node.t === 'string' ? node.quoted : node.t === 'dot' ? '.' : node.t === 'nil' ? 'nil' : node.t === 'bool' ? String(node.value) : node.text)}`);
      default:
        return { t: 'chain', pos, node, field: fields };
    }
  }

  private term(): Arg | null {
    const k = this.nextNonSpace();
    switch (k.kind) {
      case 'ident':
        if (!this.funcs.has(k.val)) this.error(`function ${JSON.stringify(k.val)} not defined`);
        return { t: 'ident', pos: k.pos, name: k.val };
      case 'dot':
        return { t: 'dot', pos: k.pos };
      case 'nil':
        return { t: 'nil', pos: k.pos };
      case 'var':
        this.useVar(k.val);
        return { t: 'var', pos: k.pos, ident: [k.val] };
      case 'field':
        return { t: 'field', pos: k.pos, ident: [k.val.slice(1)] };
      case 'bool':
        return { t: 'bool', pos: k.pos, value: k.val === 'true' };
      case 'number':
        return this.number(k);
      case 'lparen':
        return { t: 'pipe', pos: k.pos, pipe: this.pipeline('parenthesized pipeline', 'rparen') };
      case 'string': {
        const value = unquote(k.val);
        if (value === null) this.error(`invalid syntax: ${k.val}`); // unreachable for what the lexer accepts, mostly
        return { t: 'string', pos: k.pos, quoted: k.val, value };
      }
      default:
        this.i--;
        return null;
    }
  }

  private number(k: Token): Arg {
    const text = k.val.replace(/_/g, '');
    const isInt = /^[+-]?(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(text);
    const value = isInt ? Number.parseInt(text, text.replace(/^[+-]/, '').startsWith('0x') || text.replace(/^[+-]/, '').startsWith('0X') ? 16 : 10) : Number(text);
    if (!Number.isFinite(value) || (isInt && !Number.isSafeInteger(value))) this.error(`illegal number syntax: ${JSON.stringify(k.val)}`);
    return { t: 'number', pos: k.pos, text: k.val, int: isInt, value };
  }

  private useVar(name: string): Variable {
    const base = name.split('.')[0]!;
    if (!this.vars.includes(base)) this.error(`undefined variable ${JSON.stringify(base)}`);
    return { t: 'var', pos: this.lastPos, ident: [name] };
  }
}
