// Go's text/tabwriter as docker's fork uses it (cli/command/formatter/tabwriter): cells end at '\t' (or '\v'),
// a column block is a run of lines that have a cell in that column, its width is the widest cell plus padding but
// at least minwidth; the last cell of a line is never aligned. A line holding one cell flushes the writer, which
// ends every column block, exactly as Go does.
import { displayWidth } from './display-width.js';

interface Cell {
  text: string;
  width: number;
  htab: boolean;
}

export interface TabwriterOptions {
  minwidth: number;
  padding: number;
  padchar: string;
}

/** docker's table settings: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0). */
export const DOCKER_TABLE: TabwriterOptions = { minwidth: 10, padding: 3, padchar: ' ' };

export class TabWriter {
  private out = '';
  private lines: Cell[][] = [[]];
  private cell = '';
  private widths: number[] = [];

  constructor(private readonly opts: TabwriterOptions = DOCKER_TABLE) {}

  write(text: string): void {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch !== '\t' && ch !== '\v' && ch !== '\n' && ch !== '\f') continue;
      this.cell += text.slice(start, i);
      start = i + 1;
      const ncells = this.terminateCell(ch === '\t');
      if (ch === '\n' || ch === '\f') {
        this.lines.push([]);
        if (ch === '\f' || ncells === 1) this.flushLines();
      }
    }
    this.cell += text.slice(start);
  }

  /** Flushes what is buffered and returns everything written so far. */
  flush(): string {
    if (this.cell.length > 0) this.terminateCell(false);
    this.flushLines();
    const out = this.out;
    this.out = '';
    return out;
  }

  private terminateCell(htab: boolean): number {
    const line = this.lines[this.lines.length - 1]!;
    line.push({ text: this.cell, width: displayWidth(this.cell), htab });
    this.cell = '';
    return line.length;
  }

  private flushLines(): void {
    this.format(0, this.lines.length);
    this.lines = [[]];
    this.widths = [];
  }

  private format(line0: number, line1: number): void {
    const column = this.widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= this.lines[cur]!.length - 1) continue;
      // A cell in this column: print the lines before the block, then size the block.
      this.writeLines(line0, cur);
      line0 = cur;
      let width = this.opts.minwidth;
      for (; cur < line1; cur++) {
        const line = this.lines[cur]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column]!.width + this.opts.padding);
      }
      this.widths.push(width);
      this.format(line0, cur);
      this.widths.pop();
      line0 = cur;
    }
    this.writeLines(line0, line1);
  }

  private writeLines(line0: number, line1: number): void {
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i]!;
      line.forEach((c, j) => {
        this.out += c.text;
        const w = this.widths[j];
        if (w !== undefined) this.out += this.opts.padchar.repeat(Math.max(0, w - c.width));
      });
      // The last buffered line is the unterminated one: its pending text is written by the caller's flush.
      if (i + 1 < this.lines.length) this.out += '\n';
    }
  }
}

/** Aligns a whole text at once with docker's table settings. */
export function tabwrite(text: string, opts: TabwriterOptions = DOCKER_TABLE): string {
  const w = new TabWriter(opts);
  w.write(text);
  return w.flush();
}
