// Go text/template's execution (text/template/exec.go) with Option("missingkey=error"): the tree of parser.ts over
// a value, into one Buffer. Output pieces are views (template text: ranges of the source; data from `secret` and
// `config`: the caller's Buffers) until the end, where they are copied once into a zero-filled Buffer of our own.
// Errors carry Go's text: `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.
import { argString, commandString, type ControlNode, type Arg, type Command, type Node, type Pipe } from './ast.js';
import { BUILTINS, type FuncMap, type TemplateFunc } from './funcs.js';
import { formatV, GoBytes, GoFloat, GoMap, GoPieces, GoStruct, isTrue, SensitiveDataError, typeName, type Value } from './values.js';
import { locationOf, parse, TemplateError, type ParsedTemplate } from './parser.js';

/** A parsed template and the functions it may call (builtins plus the caller's). */
export interface Template {
  tree: ParsedTemplate;
  funcs: FuncMap;
}

/** Parses src under the given name; the caller's functions join Go's builtins (and shadow them, as Funcs does). */
export function compile(name: string, src: Buffer, funcs: FuncMap = new Map()): Template {
  const all = new Map<string, TemplateFunc>([...BUILTINS, ...funcs]);
  return { tree: parse(name, src, new Set(all.keys())), funcs: all };
}

/** Executes into one Buffer (zero-filled allocation, never Node's shared pool). */
export function execute(tpl: Template, data: Value): Buffer {
  const st = new State(tpl);
  st.vars.push({ name: '$', value: data });
  st.walkList(data, tpl.tree.root);
  return st.assemble();
}

/** runsecrets' bounds (Go has none): a template runs on the agent's event loop, and its output is a task's file. */
export const MAX_TEMPLATE_STEPS = 1_000_000;
export const MAX_TEMPLATE_OUTPUT = 4 * 1024 * 1024;

const MISSING = Symbol('missing');
type Final = Value | typeof MISSING;
class Break {}
class Continue {}

class State {
  readonly vars: Array<{ name: string; value: Value }> = [];
  private readonly out: Array<Buffer | string> = [];
  private node: { pos: number; str: string } | null = null;
  private steps = 0;
  private outBytes = 0;

  constructor(private readonly tpl: Template) {}

  assemble(): Buffer {
    const bufs = this.out.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p));
    let total = 0;
    for (const b of bufs) total += b.length;
    const result = Buffer.alloc(total);
    let off = 0;
    for (const b of bufs) {
      result.set(b, off);
      off += b.length;
    }
    this.out.length = 0;
    return result;
  }

  private at(pos: number, str: string): void {
    this.node = { pos, str };
  }

  private errorf(msg: string): never {
    const name = this.tpl.tree.name;
    if (!this.node) throw new TemplateError(`template: ${name}: ${msg}`);
    let ctx = this.node.str;
    // Go's ErrorContext shortens long node texts.
    if (ctx.length > 20) ctx = `${ctx.slice(0, 20)}...`;
    throw new TemplateError(`template: ${locationOf(name, this.tpl.tree.src, this.node.pos)}: executing ${JSON.stringify(name)} at <${ctx}>: ${msg}`);
  }

  walkList(dot: Value, list: readonly Node[]): void {
    for (const n of list) this.walk(dot, n);
  }

  private emit(p: Buffer | string): void {
    this.outBytes += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
    if (this.outBytes > MAX_TEMPLATE_OUTPUT) this.errorf(`template output exceeds ${MAX_TEMPLATE_OUTPUT} bytes (runsecrets' limit)`);
    this.out.push(p);
  }

  private step(): void {
    if (++this.steps > MAX_TEMPLATE_STEPS) this.errorf(`template execution exceeds ${MAX_TEMPLATE_STEPS} steps (runsecrets' limit)`);
  }

  private walk(dot: Value, n: Node): void {
    this.step();
    switch (n.t) {
      case 'text':
        this.emit(this.tpl.tree.src.subarray(n.start, n.end));
        return;
      case 'action': {
        const v = this.evalPipeline(dot, n.pipe);
        if (n.pipe.decl.length === 0) this.print(v);
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, n.pipe);
        if (isTrue(v)) this.walkList(n.t === 'with' ? v : dot, n.list);
        else if (n.elseList) this.walkList(dot, n.elseList);
        this.vars.length = mark;
        return;
      }
      case 'range':
        return this.walkRange(dot, n);
      case 'break':
        throw new Break();
      case 'continue':
        throw new Continue();
    }
  }

  private walkRange(dot: Value, n: ControlNode): void {
    this.at(n.pos, 'range');
    const mark = this.vars.length;
    const v = this.evalPipeline(dot, n.pipe);
    const items: Array<[Value, Value]> = [];
    if (v instanceof GoMap) for (const k of v.sortedKeys()) items.push([k, v.entries.get(k)!]);
    else if (Array.isArray(v)) (v as readonly Value[]).forEach((x, i) => items.push([i, x]));
    else if (typeof v === 'number') {
      if (v > MAX_TEMPLATE_STEPS) this.errorf(`template execution exceeds ${MAX_TEMPLATE_STEPS} steps (runsecrets' limit)`);
      for (let i = 0; i < v; i++) items.push([i, i]);
    }
    else if (v !== null) {
      // Reported at the pipeline's last evaluated node, as Go's state is left by evalPipeline.
      const parts: Array<string | GoBytes> = [];
      if (!(v instanceof GoBytes && v.sensitive) && !(v instanceof GoPieces)) formatV(v, parts);
      this.errorf(`range can't iterate over ${parts.map((p) => (typeof p === 'string' ? p : '…')).join('')}`);
    }
    const decl = n.pipe.decl;
    for (const [k, x] of items) {
      this.step();
      // One variable: the element; two: the key (or index), then the element.
      if (decl.length === 1) this.setVar(decl[0]!.ident[0]!, x, mark);
      if (decl.length === 2) {
        this.setVar(decl[0]!.ident[0]!, k, mark);
        this.setVar(decl[1]!.ident[0]!, x, mark);
      }
      try {
        this.walkList(x, n.list);
      } catch (e) {
        if (e instanceof Break) break;
        if (!(e instanceof Continue)) throw e;
      }
    }
    if (items.length === 0 && n.elseList) this.walkList(dot, n.elseList);
    this.vars.length = mark;
  }

  /** Sets a range variable in this iteration (declared after mark). */
  private setVar(name: string, value: Value, mark: number): void {
    for (let i = this.vars.length - 1; i >= mark; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.vars.push({ name, value });
  }

  private print(v: Value): void {
    if (v === null) {
      this.emit('<no value>');
      return;
    }
    const parts: Array<string | GoBytes> = [];
    formatV(v, parts);
    for (const p of parts) this.emit(typeof p === 'string' ? p : p.data);
  }

  private evalPipeline(dot: Value, pipe: Pipe): Value {
    this.at(pipe.pos, '');
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    const v = value === MISSING ? null : value;
    for (const d of pipe.decl) {
      const name = d.ident[0]!;
      if (pipe.isAssign) {
        const slot = [...this.vars].reverse().find((x) => x.name === name);
        if (!slot) this.errorf(`undefined variable: ${name}`);
        slot.value = v;
      } else this.vars.push({ name, value: v });
    }
    return v;
  }

  private evalCommand(dot: Value, cmd: Command, final: Final): Value {
    this.step();
    const first = cmd.args[0]!;
    switch (first.t) {
      case 'field':
        return this.evalFieldChain(dot, dot, first.pos, argString(first), first.ident, cmd.args, final);
      case 'chain': {
        this.notAFunction(cmd.args, final);
        const base = this.evalArg(dot, first.node);
        return this.evalFieldChain(dot, base, first.pos, argString(first), first.field, cmd.args, final);
      }
      case 'ident':
        return this.evalFunction(dot, first, cmd, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first.pipe);
      case 'var':
        return this.evalVariable(dot, first, cmd.args, final);
    }
    this.at(first.pos, argString(first));
    this.notAFunction(cmd.args, final);
    switch (first.t) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        this.errorf('nil is not a command');
      case 'number':
        return this.numberValue(first);
      case 'string':
        return first.value;
    }
  }

  private numberValue(n: Extract<Arg, { t: 'number' }>): Value {
    return n.int ? n.value : new GoFloat(n.value);
  }

  private notAFunction(args: readonly Arg[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${argString(args[0]!)}`);
  }

  private evalVariable(dot: Value, v: Extract<Arg, { t: 'var' }>, args: readonly Arg[], final: Final): Value {
    this.at(v.pos, argString(v));
    const name = v.ident[0]!;
    const slot = [...this.vars].reverse().find((x) => x.name === name);
    if (!slot) this.errorf(`undefined variable: ${name}`);
    if (v.ident.length === 1) {
      this.notAFunction(args, final);
      return slot.value;
    }
    return this.evalFieldChain(dot, slot.value, v.pos, argString(v), v.ident.slice(1), args, final);
  }

  private evalFieldChain(dot: Value, receiver: Value, pos: number, str: string, idents: readonly string[], args: readonly Arg[], final: Final): Value {
    this.at(pos, str);
    let r = receiver;
    idents.forEach((name, i) => {
      const last = i === idents.length - 1;
      r = this.evalField(r, name, last ? args : [], last ? final : MISSING);
    });
    return r;
  }

  private evalField(receiver: Value, name: string, args: readonly Arg[], final: Final): Value {
    const hasArgs = args.length > 1 || final !== MISSING;
    if (receiver instanceof GoStruct) {
      const v = receiver.fields.get(name);
      if (v === undefined) this.errorf(`can't evaluate field ${name} in type ${receiver.type}`);
      if (hasArgs) this.errorf(`${name} has arguments but cannot be invoked as function`);
      return v;
    }
    if (receiver instanceof GoMap) {
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      const v = receiver.entries.get(name);
      if (v === undefined) this.errorf(`map has no entry for key ${JSON.stringify(name)}`);
      return v;
    }
    if (receiver === null) this.errorf(`nil pointer evaluating ${typeName(receiver)}.${name}`);
    this.errorf(`can't evaluate field ${name} in type ${typeName(receiver)}`);
  }

  private evalFunction(dot: Value, id: Extract<Arg, { t: 'ident' }>, cmd: Command | null, final: Final): Value {
    this.at(id.pos, id.name);
    const fn = this.tpl.funcs.get(id.name);
    if (!fn) this.errorf(`${JSON.stringify(id.name)} is not a defined function`);
    const argNodes = cmd ? cmd.args.slice(1) : [];
    const n = argNodes.length + (final === MISSING ? 0 : 1);
    if (fn.variadic && n < fn.params) this.errorf(`wrong number of args for ${id.name}: want at least ${fn.params} got ${argNodes.length}`);
    if (!fn.variadic && n !== fn.params) this.errorf(`wrong number of args for ${id.name}: want ${fn.params} got ${n}`);
    const cmdStr = cmd ? commandString(cmd) : id.name;
    const cmdPos = cmd ? cmd.pos : id.pos;
    // and/or stop at the first argument that decides (Go 1.18+).
    if (id.name === 'and' || id.name === 'or') {
      let v: Value = null;
      for (const a of argNodes) {
        v = this.evalArg(dot, a);
        if (isTrue(v) === (id.name === 'or')) return v;
      }
      return final === MISSING ? v : final;
    }
    const values = argNodes.map((a) => {
      const v = this.evalArg(dot, a);
      if (fn.strings && !isStringKind(v)) this.errorf(`wrong type for value; expected string; got ${typeName(v)}`);
      return v;
    });
    if (final !== MISSING) {
      if (fn.strings && !isStringKind(final)) this.errorf(`wrong type for value; expected string; got ${typeName(final)}`);
      values.push(final);
    }
    try {
      return fn.call(values);
    } catch (err) {
      if (err instanceof TemplateError) throw err;
      this.at(cmdPos, cmdStr);
      if (err instanceof SensitiveDataError) this.errorf(err.message);
      this.errorf(`error calling ${id.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private evalArg(dot: Value, a: Arg): Value {
    this.at(a.pos, argString(a));
    switch (a.t) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'field':
        return this.evalFieldChain(dot, dot, a.pos, argString(a), a.ident, [], MISSING);
      case 'var':
        return this.evalVariable(dot, a, [], MISSING);
      case 'pipe':
        return this.evalPipeline(dot, a.pipe);
      case 'ident':
        return this.evalFunction(dot, a, null, MISSING);
      case 'chain':
        return this.evalFieldChain(dot, this.evalArg(dot, a.node), a.pos, argString(a), a.field, [], MISSING);
      case 'bool':
        return a.value;
      case 'number':
        return this.numberValue(a);
      case 'string':
        return a.value;
    }
  }
}

/** Go's string kind: strings and the data `secret`/`config` return (Go strings there too). */
function isStringKind(v: Value): boolean {
  return typeof v === 'string' || v instanceof GoBytes || v instanceof GoPieces;
}
