/**
 * Aligns tab-separated lines into columns the way the docker CLI's tables are laid out
 * (Go's text/tabwriter with minwidth 10, padding 3, spaces): each cell that a tab ends
 * is padded to its column's width, the text after a line's last tab is left as is, and
 * a column's width is taken over the run of adjacent lines that have that column.
 */
export function tabwrite(text: string, minWidth = 10, padding = 3): string {
  const trailingNewline = text.endsWith('\n');
  const lines = (trailingNewline ? text.slice(0, -1) : text).split('\n').map((l) => l.split('\t'));
  const widths: number[][] = lines.map((cells) => new Array<number>(Math.max(0, cells.length - 1)).fill(0));
  const columns = Math.max(0, ...lines.map((cells) => cells.length - 1));
  for (let col = 0; col < columns; col++) {
    let i = 0;
    while (i < lines.length) {
      if (lines[i]!.length - 1 <= col) {
        i++;
        continue;
      }
      let j = i;
      let width = minWidth;
      while (j < lines.length && lines[j]!.length - 1 > col) {
        width = Math.max(width, displayWidth(lines[j]![col]!) + padding);
        j++;
      }
      for (let k = i; k < j; k++) widths[k]![col] = width;
      i = j;
    }
  }
  const out = lines.map((cells, li) =>
    cells.map((cell, ci) => (ci < cells.length - 1 ? cell + ' '.repeat(widths[li]![ci]! - displayWidth(cell)) : cell)).join(''),
  );
  return out.join('\n') + (trailingNewline ? '\n' : '');
}

/** Width in characters (code points), as Go's tabwriter counts runes. */
export function displayWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Docker's `Ellipsis`: cut to `max` characters, the last one being `…`. */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const chars = [...s];
  if (chars.length <= max) return s;
  if (max === 1) return chars[0]!;
  return `${chars.slice(0, max - 1).join('')}…`;
}

/** Docker's `TruncateID`: `sha256:` dropped, first 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  const bare = i >= 0 ? id.slice(i + 1) : id;
  return bare.length > 12 ? bare.slice(0, 12) : bare;
}

/** Go's `strconv.Quote`: double quotes, Go escapes for control characters. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0x80 && c < 0xa0) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
