// docker's inspect.Inspect: no format prints the raw server JSON of all found objects as one 4-space indented
// array; "json" prints it compact; a template runs against the typed object and, when that fails, against the raw
// JSON with missingkey=error. Errors are collected per reference and returned with the output.
import { compactJSON, indentJSON } from './json-text.js';
import { Template, TemplateError } from './go-template.js';
import { fromRawJSON, type GoValue } from './go-values.js';

export interface InspectElement {
  typed: GoValue;
  raw: string;
}

export type GetRef = (ref: string) => Promise<InspectElement>;

export interface InspectResult {
  stdout: string;
  errors: string[];
}

/** Thrown before any lookup when the template does not parse. */
export class InspectTemplateError extends Error {}

export async function inspectRefs(refs: string[], format: string, getRef: GetRef): Promise<InspectResult> {
  let tmpl: Template | null = null;
  if (format !== '' && format !== 'json') {
    try {
      tmpl = Template.parse(format);
    } catch (e) {
      if (e instanceof TemplateError) throw new InspectTemplateError(`template parsing error: ${e.message}`);
      throw e;
    }
  }
  const errors: string[] = [];
  const raws: string[] = [];
  let out = '';
  for (const ref of refs) {
    let el: InspectElement;
    try {
      el = await getRef(ref);
    } catch (e) {
      errors.push((e as Error).message);
      continue;
    }
    if (!tmpl) {
      raws.push(el.raw);
      continue;
    }
    try {
      out += tmpl.execute(el.typed) + '\n';
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      let raw: unknown;
      try {
        raw = JSON.parse(el.raw);
      } catch (pe) {
        errors.push(`unable to read inspect data: ${(pe as Error).message}`);
        continue;
      }
      try {
        out += tmpl.execute(fromRawJSON(raw), { missingKeyError: true }) + '\n';
      } catch (e2) {
        if (!(e2 instanceof TemplateError)) throw e2;
        errors.push(`template parsing error: ${e2.message}`);
      }
    }
  }
  if (tmpl) return { stdout: out === '' ? '\n' : out, errors };
  if (raws.length === 0) return { stdout: '[]\n', errors };
  const joined = '[' + raws.join(',') + ']';
  return { stdout: (format === 'json' ? compactJSON(joined) : indentJSON(joined)) + '\n', errors };
}
