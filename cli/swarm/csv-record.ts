// One record of Go's encoding/csv (as docker reads --secret/--config values): comma-separated fields, a field may
// be double-quoted with "" for a quote inside; errors worded like Go's csv.ParseError.
export class CsvError extends Error {}

export function parseCsvRecord(line: string): string[] {
  // csv.Reader.Read reads the first line only; a trailing \r\n or \n ends it.
  const text = line.split(/\r?\n/)[0]!;
  const fields: string[] = [];
  let i = 0;
  const col = (k: number): number => Buffer.byteLength(text.slice(0, k)) + 1;
  for (;;) {
    if (text[i] === '"') {
      const start = i;
      i++;
      let field = '';
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new CsvError(`parse error on line 1, column ${col(text.length) }: extraneous or missing " in quoted-field`);
        field += text.slice(i, q);
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else if (q + 1 === text.length || text[q + 1] === ',') {
          i = q + 1;
          break;
        } else {
          void start;
          throw new CsvError(`parse error on line 1, column ${col(q + 1)}: extraneous or missing " in quoted-field`);
        }
      }
      fields.push(field);
    } else {
      const end = text.indexOf(',', i);
      const field = end < 0 ? text.slice(i) : text.slice(i, end);
      const bare = field.indexOf('"');
      if (bare >= 0) throw new CsvError(`parse error on line 1, column ${col(i + bare)}: bare " in non-quoted-field`);
      fields.push(field);
      i = end < 0 ? text.length : end;
    }
    if (i >= text.length) break;
    i++; // the comma
    if (i === text.length) {
      fields.push('');
      break;
    }
  }
  return fields;
}
