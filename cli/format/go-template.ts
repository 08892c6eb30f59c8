// A subset of Go's text/template, as docker's --format uses it: text and {{actions}} with trim markers, comments,
// fields and field chains ({{.Spec.Name}}), method calls with arguments ({{.Label "k"}}), variables, pipelines,
// parentheses, if/else if/else, range (with $k, $v), with, and the functions docker and Go define that matter here.
// Errors read like Go's. The pieces: template-lex, template-parse, template-exec, template-funcs.
import type { GoValue } from './go-values.js';
import { lex, TemplateError } from './template-lex.js';
import { Parser, type FuncTable, type Node } from './template-parse.js';
import { Exec } from './template-exec.js';
import { DOCKER_FUNCS } from './template-funcs.js';

export { TemplateError } from './template-lex.js';
export { DOCKER_FUNCS, HEADER_FUNCS } from './template-funcs.js';

export class Template {
  private constructor(
    private readonly src: string,
    private readonly tree: Node[],
  ) {}

  /** Parses like templates.Parse (docker's functions available); throws TemplateError with Go's text. */
  static parse(src: string, funcs: FuncTable = DOCKER_FUNCS): Template {
    return new Template(src, new Parser(src, lex(src), funcs).parseTemplate());
  }

  /**
   * Executes against dot. On error, `partial` of the thrown error holds what was written before it (Go writes
   * straight to its writer, and docker keeps that output for table headers).
   */
  execute(dot: GoValue, opts: { funcs?: FuncTable; missingKeyError?: boolean } = {}): string {
    const ex = new Exec(this.src, opts.funcs ?? DOCKER_FUNCS, { missingKeyError: opts.missingKeyError ?? false });
    try {
      ex.run(this.tree, dot);
    } catch (e) {
      if (e instanceof TemplateError) throw Object.assign(e, { partial: ex.out });
      throw e;
    }
    return ex.out;
  }
}
