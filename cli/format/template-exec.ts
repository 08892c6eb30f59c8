// Go text/template's executor for the subset: Go's rules for fields, methods, map keys (missingkey=default or
// error), truth, range over maps (sorted keys) and slices, variables and scopes, and Go's error texts
// ("template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type T").
import { GoMap, GoStruct, goSprint, goTruthy, goTypeName, type GoValue } from './go-values.js';
import { GoTime } from './go-time.js';
import { lineOf, TemplateError } from './template-lex.js';
import type { Arg, Cmd, FuncTable, Node, Pipe } from './template-parse.js';
import { BUILTIN_FUNCS, VARIADIC } from './template-funcs.js';

class Break {}
class Continue {}

export interface ExecOptions {
  missingKeyError: boolean;
}

export class Exec {
  out = '';
  private vars: Array<{ name: string; value: GoValue }> = [];

  constructor(
    private readonly src: string,
    private readonly funcs: FuncTable,
    private readonly opts: ExecOptions,
  ) {}

  private fail(pos: number, context: string, msg: string): never {
    const before = this.src.slice(0, pos);
    const nl = before.lastIndexOf('\n');
    const col = nl < 0 ? pos : pos - nl - 1;
    throw new TemplateError(`template: :${lineOf(this.src, pos)}:${col}: executing "" at <${context}>: ${msg}`);
  }

  run(nodes: Node[], dot: GoValue): void {
    this.vars = [{ name: '$', value: dot }];
    this.walkList(nodes, dot);
  }

  private walkList(nodes: Node[], dot: GoValue): void {
    for (const n of nodes) this.walk(n, dot);
  }

  private walk(n: Node, dot: GoValue): void {
    switch (n.t) {
      case 'text':
        this.out += n.text;
        return;
      case 'action': {
        const v = this.evalPipeline(dot, n.pipe);
        if (n.pipe.decl.length === 0) this.out += goSprint(v);
        return;
      }
      case 'break':
        throw new Break();
      case 'continue':
        throw new Continue();
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, n.pipe);
        if (goTruthy(v)) this.walkList(n.list, n.t === 'with' ? v : dot);
        else if (n.elseList) this.walkList(n.elseList, dot);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.walkRange(n, dot);
        return;
    }
  }

  private walkRange(n: Extract<Node, { t: 'range' }>, dot: GoValue): void {
    const mark = this.vars.length;
    const pipe: Pipe = { ...n.pipe, decl: [] };
    const v = this.evalPipeline(dot, pipe);
    const items: Array<[GoValue, GoValue]> = [];
    if (v instanceof GoMap) for (const k of v.sortedKeys()) items.push([k, v.entries.get(k)]);
    else if (Array.isArray(v)) v.forEach((x, i) => items.push([i, x]));
    else if (v instanceof Uint8Array) v.forEach((x, i) => items.push([i, x]));
    else if (typeof v === 'number' && Number.isInteger(v)) for (let i = 0; i < v; i++) items.push([i, i]);
    else if (v !== null && v !== undefined) {
      // Go reports the last node it evaluated: the pipeline's last command's operand.
      const at = n.pipe.cmds[n.pipe.cmds.length - 1]!.args[0]!;
      this.fail(at.pos, at.src, `range can't iterate over ${goSprint(v)}`);
    }
    if (items.length === 0) {
      if (n.elseList) this.walkList(n.elseList, dot);
      this.vars.length = mark;
      return;
    }
    for (const [k, x] of items) {
      this.vars.length = mark;
      if (n.pipe.decl.length === 1) this.vars.push({ name: n.pipe.decl[0]!, value: x });
      if (n.pipe.decl.length === 2) {
        this.vars.push({ name: n.pipe.decl[0]!, value: k });
        this.vars.push({ name: n.pipe.decl[1]!, value: x });
      }
      try {
        this.walkList(n.list, x);
      } catch (e) {
        if (e instanceof Break) break;
        if (!(e instanceof Continue)) throw e;
      }
    }
    this.vars.length = mark;
  }

  private evalPipeline(dot: GoValue, pipe: Pipe): GoValue {
    let value: GoValue = undefined;
    let has = false;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, has ? { v: value } : null);
      has = true;
    }
    if (pipe.decl.length > 0) {
      const name = pipe.decl[0]!;
      if (pipe.isAssign) {
        for (let i = this.vars.length - 1; i >= 0; i--) {
          if (this.vars[i]!.name === name) {
            this.vars[i]!.value = value;
            break;
          }
        }
      } else {
        this.vars.push({ name, value });
      }
    }
    return value;
  }

  private evalCommand(dot: GoValue, cmd: Cmd, final: { v: GoValue } | null): GoValue {
    const first = cmd.args[0]!;
    const rest = cmd.args.slice(1);
    switch (first.t) {
      case 'field':
        return this.evalChain(dot, dot, first, first.idents, rest, final);
      case 'var': {
        const value = this.lookupVar(first.name);
        if (first.idents.length === 0) {
          this.notAFunction(first, rest, final);
          return value;
        }
        return this.evalChain(dot, value, first, first.idents, rest, final);
      }
      case 'pipe': {
        const value = this.evalPipeline(dot, first.pipe);
        if (first.idents.length === 0) {
          this.notAFunction(first, rest, final);
          return value;
        }
        return this.evalChain(dot, value, first, first.idents, rest, final);
      }
      case 'ident':
        return this.callFunction(dot, first, rest, final);
      case 'dot':
        this.notAFunction(first, rest, final);
        return dot;
      case 'nil':
        return this.fail(first.pos, 'nil', 'nil is not a command');
      case 'lit':
        this.notAFunction(first, rest, final);
        return first.value;
    }
  }

  private notAFunction(arg: Arg, rest: Arg[], final: { v: GoValue } | null): void {
    if (rest.length > 0 || final) this.fail(arg.pos, arg.src, `can't give argument to non-function ${arg.src}`);
  }

  private lookupVar(name: string): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    throw new TemplateError(`template: undefined variable: ${name}`);
  }

  private evalArg(dot: GoValue, a: Arg): GoValue {
    switch (a.t) {
      case 'field':
        return this.evalChain(dot, dot, a, a.idents, [], null);
      case 'var': {
        const v = this.lookupVar(a.name);
        return a.idents.length ? this.evalChain(dot, v, a, a.idents, [], null) : v;
      }
      case 'pipe': {
        const v = this.evalPipeline(dot, a.pipe);
        return a.idents.length ? this.evalChain(dot, v, a, a.idents, [], null) : v;
      }
      case 'ident':
        return this.callFunction(dot, a, [], null);
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'lit':
        return a.value;
    }
  }

  private evalChain(dot: GoValue, receiver: GoValue, node: Arg, idents: string[], args: Arg[], final: { v: GoValue } | null): GoValue {
    let r = receiver;
    for (let i = 0; i < idents.length - 1; i++) r = this.evalField(dot, idents[i]!, node, [], null, r);
    return this.evalField(dot, idents[idents.length - 1]!, node, args, final, r);
  }

  private evalField(dot: GoValue, name: string, node: Arg, args: Arg[], final: { v: GoValue } | null, r: GoValue): GoValue {
    if (r === undefined) {
      if (this.opts.missingKeyError) this.fail(node.pos, node.src, `nil data; no entry for key "${name}"`);
      return undefined;
    }
    if (r === null) this.fail(node.pos, node.src, `nil pointer evaluating interface {}.${name}`);
    const method = r instanceof GoStruct ? r.method(name) : r instanceof GoMap ? r.methods[name] : undefined;
    if (method) {
      const vals = args.map((a) => this.evalArg(dot, a));
      if (final) vals.push(final.v);
      if (vals.length !== method.length) {
        this.fail(node.pos, node.src, `wrong number of args for ${name}: want ${method.length} got ${vals.length}`);
      }
      return method(...vals);
    }
    const hasArgs = args.length > 0 || final !== null;
    if (r instanceof GoStruct) {
      const f = r.field(name);
      if (f.found) {
        if (hasArgs) this.fail(node.pos, node.src, `${name} has arguments but cannot be invoked as function`);
        return f.value;
      }
      this.fail(node.pos, node.src, `can't evaluate field ${name} in type ${r.typeName}`);
    }
    if (r instanceof GoMap) {
      if (hasArgs) this.fail(node.pos, node.src, `${name} is not a method but has arguments`);
      if (r.entries.has(name)) return r.entries.get(name);
      if (this.opts.missingKeyError) this.fail(node.pos, node.src, `map has no entry for key "${name}"`);
      return undefined;
    }
    if (r instanceof GoTime && name === 'Unix') return Math.floor(r.epochMillis() / 1000);
    return this.fail(node.pos, node.src, `can't evaluate field ${name} in type ${goTypeName(r)}`);
  }

  private callFunction(dot: GoValue, id: Extract<Arg, { t: 'ident' }>, args: Arg[], final: { v: GoValue } | null): GoValue {
    const evalAll = (): GoValue[] => {
      const vals = args.map((a) => this.evalArg(dot, a));
      if (final) vals.push(final.v);
      return vals;
    };
    try {
      switch (id.name) {
        case 'and':
        case 'or': {
          const all = [...args.map((a) => () => this.evalArg(dot, a)), ...(final ? [() => final.v] : [])];
          if (all.length === 0) throw new TemplateError(`wrong number of args for ${id.name}: want at least 1 got 0`);
          let v: GoValue = undefined;
          for (const f of all) {
            v = f();
            if (goTruthy(v) === (id.name === 'or')) return v;
          }
          return v;
        }
        default:
          break;
      }
      const vals = evalAll();
      const fn = Object.prototype.hasOwnProperty.call(this.funcs, id.name) ? this.funcs[id.name]! : BUILTIN_FUNCS[id.name]!;
      if (fn.length >= 0 && !VARIADIC.has(id.name) && vals.length !== fn.length) {
        throw new TemplateError(`wrong number of args for ${id.name}: want ${fn.length} got ${vals.length}`);
      }
      return fn(...vals);
    } catch (e) {
      if (e instanceof TemplateError && !e.message.startsWith('template:')) {
        const msg = e.message.startsWith('wrong number') ? e.message : `error calling ${id.name}: ${e.message}`;
        this.fail(id.pos, id.src, msg);
      }
      throw e;
    }
  }
}
