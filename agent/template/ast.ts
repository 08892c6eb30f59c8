// The parse tree of a Go text/template (text/template/parse/node.go, the parts Swarm's templates use). Every node
// keeps its byte position (for Go's "expansion:LINE:COL" error locations); `str` gives Go's String() of a node,
// which Go prints in execution errors as `at <...>`.

export type Node =
  | { t: 'text'; pos: number; start: number; end: number }
  | { t: 'action'; pos: number; pipe: Pipe }
  | ControlNode
  | { t: 'break' | 'continue'; pos: number };

export interface ControlNode {
  t: 'if' | 'with' | 'range';
  pos: number;
  pipe: Pipe;
  list: Node[];
  elseList: Node[] | null;
}

export interface Pipe {
  pos: number;
  /** `$x :=` (declare) or `$x =` (assign); range may declare two. */
  decl: Variable[];
  isAssign: boolean;
  cmds: Command[];
}

export interface Command {
  pos: number;
  args: Arg[];
}

export interface Variable {
  t: 'var';
  pos: number;
  /** "$x" then field names: $x.A.B is ['$x', 'A', 'B']. */
  ident: string[];
}

export type Arg =
  | Variable
  | { t: 'field'; pos: number; ident: string[] }
  | { t: 'ident'; pos: number; name: string }
  | { t: 'dot'; pos: number }
  | { t: 'nil'; pos: number }
  | { t: 'bool'; pos: number; value: boolean }
  | { t: 'number'; pos: number; text: string; int: boolean; value: number }
  | { t: 'string'; pos: number; quoted: string; value: string }
  | { t: 'pipe'; pos: number; pipe: Pipe }
  | { t: 'chain'; pos: number; node: Arg; field: string[] };

export function argString(a: Arg): string {
  switch (a.t) {
    case 'var':
      return a.ident.join('.');
    case 'field':
      return a.ident.map((f) => `.${f}`).join('');
    case 'ident':
      return a.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(a.value);
    case 'number':
      return a.text;
    case 'string':
      return a.quoted;
    case 'pipe':
      return `(${pipeString(a.pipe)})`;
    case 'chain':
      return argString(a.node) + a.field.map((f) => `.${f}`).join('');
  }
}

export function commandString(c: Command): string {
  return c.args.map(argString).join(' ');
}

export function pipeString(p: Pipe): string {
  let s = '';
  if (p.decl.length > 0) s = `${p.decl.map((v) => v.ident.join('.')).join(', ')} ${p.isAssign ? '=' : ':='} `;
  return s + p.cmds.map(commandString).join(' | ');
}
