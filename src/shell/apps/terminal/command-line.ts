/** Splits a command line into words, honouring "double" and 'single' quotes and backslash escapes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (inWord) words.push(cur);
  return words;
}

/**
 * Pulls leading `--name value` and `-f` options out of a word list, the Unix way: options come
 * before the arguments (so a task may contain "-x"), `--` ends them, and an option the command does
 * not take is refused with the list of those it does. Numeric words (-9, -3) are arguments.
 */
export function takeFlags(
  words: string[],
  valued: string[],
  booleans: string[] = [],
): { flags: Record<string, string | true>; rest: string[] } {
  const flags: Record<string, string | true> = {};
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') {
      i++;
      break;
    }
    if (!/^--?[a-z][\w-]*$/i.test(w)) break;
    const name = w.replace(/^--?/, '');
    if (valued.includes(name)) {
      const v = words[++i];
      if (v === undefined) throw new Error(`${w} needs a value`);
      flags[name] = v;
    } else if (booleans.includes(name)) flags[name] = true;
    else {
      const known = [...valued.map((n) => `--${n} <${n}>`), ...booleans.map((n) => `-${n}`)];
      throw new Error(
        `unknown option ${w}; ${known.length ? `the options are ${known.join(', ')}` : 'this command takes no options'} (put -- before a task that starts with -)`,
      );
    }
  }
  return { flags, rest: words.slice(i) };
}

/** Breaks text into lines of at most `width` characters, at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!line) line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      out.push(line);
      line = word;
    }
    while (line.length > width) {
      // A long word (a usage's alternatives) breaks after a | or , where it can.
      const at = Math.max(line.lastIndexOf('|', width - 1), line.lastIndexOf(',', width - 1)) + 1;
      const cut = at > width / 3 ? at : width;
      out.push(line.slice(0, cut));
      line = line.slice(cut);
    }
  }
  if (line || !out.length) out.push(line);
  return out;
}

/**
 * `help`'s list, fitted to a terminal `columns` wide: usage and description side by side when both
 * fit, otherwise the usage on its own line and the description indented under it. No line is longer
 * than `columns`, so nothing wraps into the next command.
 */
export function formatHelp(entries: [usage: string, help: string][], columns: number): string {
  const cols = Math.max(20, Math.floor(columns));
  // The usage column: as wide as most usages need, but never more than 45% of the line.
  const colW = Math.min(Math.max(...entries.map(([u]) => u.length)), Math.floor(cols * 0.45));
  const side = cols - colW - 2 >= 24;
  return entries
    .flatMap(([usage, help]) => {
      if (!side) return [...wrap(usage, cols), ...wrap(help, cols - 4).map((l) => `    ${l}`)];
      const pad = ' '.repeat(colW + 2);
      const text = wrap(help, cols - colW - 2);
      if (usage.length <= colW)
        return text.map((l, i) => `${i ? pad : `${usage.padEnd(colW)}  `}${l}`.trimEnd());
      return [...wrap(usage, cols), ...text.map((l) => `${pad}${l}`)];
    })
    .join('\n');
}

export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n');
}
