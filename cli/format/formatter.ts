// docker's formatter.Context.Write: a format is "table <template>" (tab-aligned, with a header row rendered from
// the header context), "json" ({{json .}} per row), or a bare template; `\t` and `\n` typed literally are
// turned into real tabs and newlines; every row ends with a newline.
import { HEADER_FUNCS, Template, TemplateError } from './go-template.js';
import type { GoValue } from './go-values.js';
import { tabwrite } from './tabwriter.js';

export class FormatError extends Error {}

export function isTableFormat(format: string): boolean {
  return format.startsWith('table');
}

function finalFormat(format: string): string {
  let f = format;
  if (isTableFormat(f)) f = f.slice('table'.length);
  else if (f === 'json') f = '{{json .}}';
  f = f.replace(/^ +| +$/g, '');
  return f.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/** Renders rows with a format; throws FormatError("template parsing error: ...") as docker does. */
export function formatWrite(format: string, rows: GoValue[], header: GoValue): string {
  let tmpl: Template;
  try {
    tmpl = Template.parse(finalFormat(format));
  } catch (e) {
    if (e instanceof TemplateError) throw new FormatError(`template parsing error: ${e.message}`);
    throw e;
  }
  let body = '';
  for (const row of rows) {
    try {
      body += tmpl.execute(row) + '\n';
    } catch (e) {
      if (e instanceof TemplateError) throw new FormatError(`template parsing error: ${e.message}`);
      throw e;
    }
  }
  if (!isTableFormat(format)) return body;
  // The header's execution error is ignored by docker; what it wrote before failing stays.
  let head: string;
  try {
    head = tmpl.execute(header, { funcs: HEADER_FUNCS });
  } catch (e) {
    head = (e as { partial?: string }).partial ?? '';
  }
  return tabwrite(head + '\n' + body);
}
