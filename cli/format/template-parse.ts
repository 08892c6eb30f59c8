// Go text/template's parser for the subset: a list of text, actions and if/with/range nodes; pipelines of
// commands; operands with field chains. Parse errors read like Go's ("template: :1: unclosed action").
import type { GoValue } from './go-values.js';
import { lineOf, TemplateError, type Token, type TokKind } from './template-lex.js';

// ---------- parse tree ----------

export type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipe; pos: number }
  | { t: 'if' | 'with'; pipe: Pipe; list: Node[]; elseList: Node[] | null; pos: number }
  | { t: 'range'; pipe: Pipe; list: Node[]; elseList: Node[] | null; pos: number }
  | { t: 'break' | 'continue'; pos: number };

export interface Pipe {
  decl: string[];
  isAssign: boolean;
  cmds: Cmd[];
  pos: number;
}

export interface Cmd {
  args: Arg[];
  pos: number;
}

export type Arg =
  | { t: 'field'; idents: string[]; pos: number; src: string }
  | { t: 'var'; name: string; idents: string[]; pos: number; src: string }
  | { t: 'dot'; pos: number; src: string }
  | { t: 'ident'; name: string; pos: number; src: string }
  | { t: 'lit'; value: GoValue; pos: number; src: string }
  | { t: 'nil'; pos: number; src: string }
  | { t: 'pipe'; pipe: Pipe; idents: string[]; pos: number; src: string };

export type FuncTable = Record<string, (...args: GoValue[]) => GoValue>;

export class Parser {
  private i = 0;
  private vars: string[][] = [['$']];

  constructor(
    private readonly src: string,
    private readonly toks: Token[],
    private readonly funcs: FuncTable,
  ) {}

  private fail(msg: string, pos = this.peek().pos): never {
    throw new TemplateError(`template: :${lineOf(this.src, pos)}: ${msg}`);
  }

  // Past the end, keep answering the EOF token.
  private peek(): Token {
    return this.toks[Math.min(this.i, this.toks.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    this.i++;
    return t;
  }

  private expect(kind: TokKind, context: string): Token {
    const t = this.next();
    if (t.kind !== kind) this.fail(`unexpected ${describe(t)} in ${context}`, t.pos);
    return t;
  }

  parseTemplate(): Node[] {
    const { list, end } = this.parseList();
    if (end !== 'eof') this.fail(`unexpected {{${end}}}`);
    return list;
  }

  /** Parses nodes up to {{end}}, {{else}} or EOF; returns which one stopped it (consumed up to its '}}'). */
  private parseList(): { list: Node[]; end: 'eof' | 'end' | 'else'; elseTok?: Token } {
    const list: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.kind === 'eof') return { list, end: 'eof' };
      if (t.kind === 'text') {
        list.push({ t: 'text', text: t.val });
        continue;
      }
      // t is '{{'
      const k = this.peek();
      if (k.kind === 'keyword') {
        this.next();
        switch (k.val) {
          case 'end':
            this.expect('right', 'end');
            return { list, end: 'end' };
          case 'else':
            return { list, end: 'else', elseTok: k };
          case 'if':
          case 'with':
          case 'range':
            list.push(this.parseControl(k.val, k.pos));
            continue;
          case 'break':
          case 'continue':
            this.expect('right', k.val);
            list.push({ t: k.val, pos: k.pos });
            continue;
          default:
            this.fail(`{{${k.val}}} is not supported here`, k.pos);
        }
      }
      const pipe = this.parsePipeline('command', false);
      list.push({ t: 'action', pipe, pos: pipe.pos });
    }
  }

  private parseControl(kind: 'if' | 'with' | 'range', pos: number): Node {
    this.vars.push([]);
    const pipe = this.parsePipeline(kind, kind === 'range');
    const body = this.parseList();
    let elseList: Node[] | null = null;
    if (body.end === 'eof') this.fail('unexpected EOF');
    if (body.end === 'else') {
      const nk = this.peek();
      if ((kind === 'if' && nk.kind === 'keyword' && nk.val === 'if') || (kind === 'with' && nk.kind === 'keyword' && nk.val === 'with')) {
        // {{else if ...}} is {{else}}{{if ...}}...{{end}}{{end}} sharing the final end.
        this.next();
        elseList = [this.parseControl(kind, nk.pos)];
      } else {
        this.expect('right', 'else');
        const rest = this.parseList();
        if (rest.end !== 'end') this.fail(rest.end === 'eof' ? 'unexpected EOF' : 'unexpected {{else}}');
        elseList = rest.list;
      }
    }
    this.vars.pop();
    return { t: kind, pipe, list: body.list, elseList, pos };
  }

  private parsePipeline(context: string, allowTwoVars: boolean): Pipe {
    const pos = this.peek().pos;
    const decl: string[] = [];
    let isAssign = false;
    // Declarations: $x := ..., $k, $v := ... (range), $x = ...
    const save = this.i;
    if (this.peek().kind === 'var') {
      const v = this.next();
      const nt = this.peek();
      if (nt.kind === 'declare' || nt.kind === 'assign') {
        this.next();
        decl.push(v.val);
        isAssign = nt.kind === 'assign';
      } else if (nt.kind === 'comma' && allowTwoVars) {
        this.next();
        const v2 = this.expect('var', 'range');
        const d = this.next();
        if (d.kind !== 'declare' && d.kind !== 'assign') this.fail(`unexpected ${describe(d)} in range`, d.pos);
        decl.push(v.val, v2.val);
      } else {
        this.i = save;
      }
    }
    if (!isAssign) for (const d of decl) this.vars[this.vars.length - 1]!.push(d);
    const cmds: Cmd[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'right' || (t.kind === 'rparen' && context === 'parenthesized pipeline')) {
        if (t.kind === 'right') this.next();
        if (cmds.length === 0) this.fail(`missing value for ${context}`, t.pos);
        return { decl, isAssign, cmds, pos };
      }
      cmds.push(this.parseCommand());
      const after = this.peek();
      if (after.kind === 'pipe') {
        this.next();
        continue;
      }
      if (after.kind !== 'right' && !(after.kind === 'rparen' && context === 'parenthesized pipeline')) {
        this.fail(`unexpected ${describe(after)} in operand`, after.pos);
      }
    }
  }

  private parseCommand(): Cmd {
    const pos = this.peek().pos;
    const args: Arg[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'right' || t.kind === 'pipe' || t.kind === 'rparen') break;
      args.push(this.parseOperand());
    }
    if (args.length === 0) this.fail('missing command', pos);
    return { args, pos };
  }

  private parseOperand(): Arg {
    const t = this.next();
    const src = (end: number): string => this.src.slice(t.pos, end);
    let arg: Arg;
    switch (t.kind) {
      case 'field':
        arg = { t: 'field', idents: [t.val], pos: t.pos, src: '' };
        break;
      case 'var':
        if (!this.vars.some((scope) => scope.includes(t.val))) this.fail(`undefined variable "${t.val}"`, t.pos);
        arg = { t: 'var', name: t.val, idents: [], pos: t.pos, src: '' };
        break;
      case 'dot':
        arg = { t: 'dot', pos: t.pos, src: '.' };
        break;
      case 'ident':
        if (!Object.prototype.hasOwnProperty.call(this.funcs, t.val) && !BUILTINS.has(t.val)) {
          this.fail(`function "${t.val}" not defined`, t.pos);
        }
        arg = { t: 'ident', name: t.val, pos: t.pos, src: t.val };
        break;
      case 'string':
        arg = { t: 'lit', value: t.val, pos: t.pos, src: '' };
        break;
      case 'bool':
        arg = { t: 'lit', value: t.val === 'true', pos: t.pos, src: t.val };
        break;
      case 'nil':
        arg = { t: 'nil', pos: t.pos, src: 'nil' };
        break;
      case 'number': {
        const n = Number(t.val.replace(/_/g, ''));
        if (Number.isNaN(n)) this.fail(`bad number syntax: "${t.val}"`, t.pos);
        arg = { t: 'lit', value: n, pos: t.pos, src: t.val };
        break;
      }
      case 'lparen': {
        const pipe = this.parsePipeline('parenthesized pipeline', false);
        this.expect('rparen', 'parenthesized pipeline');
        arg = { t: 'pipe', pipe, idents: [], pos: t.pos, src: '' };
        break;
      }
      default:
        this.fail(`unexpected ${describe(t)} in operand`, t.pos);
    }
    // Field chains straight after the operand: $x.A.B, (pipe).A
    // Go gives a chained field the position of the chain's second element (parse.go operand()).
    let chained = false;
    while (this.peek().kind === 'field' && this.peek().pos === this.toks[this.i - 1]!.pos + this.tokLen(this.i - 1)) {
      const f = this.next();
      if (arg.t === 'field' || arg.t === 'var' || arg.t === 'pipe') arg.idents.push(f.val);
      else this.fail(`unexpected . after term "${arg.src}"`, f.pos);
      if (!chained && arg.t !== 'pipe') arg.pos = f.pos;
      chained = true;
    }
    const last = this.toks[this.i - 1]!;
    arg.src = src(last.pos + this.tokLen(this.i - 1));
    return arg;
  }

  private tokLen(idx: number): number {
    const t = this.toks[idx]!;
    if (t.kind === 'field') return t.val.length + 1;
    if (t.kind === 'string') {
      // Re-measure quoted strings from the source.
      const q = this.src[t.pos]!;
      if (q === '`') return this.src.indexOf('`', t.pos + 1) - t.pos + 1;
      let j = t.pos + 1;
      while (this.src[j] !== '"') j += this.src[j] === '\\' ? 2 : 1;
      return j - t.pos + 1;
    }
    return t.val.length;
  }
}

function describe(t: Token): string {
  if (t.kind === 'right') return '"}}"';
  if (t.kind === 'eof') return 'EOF';
  return `<${t.val}>`;
}

/** Go's builtin function names (their implementations live in template-funcs.ts). */
export const BUILTINS = new Set(['and', 'or', 'not', 'len', 'index', 'print', 'printf', 'println', 'eq', 'ne', 'lt', 'le', 'gt', 'ge']);
