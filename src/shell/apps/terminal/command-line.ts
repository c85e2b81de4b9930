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

/** Pulls `--name value` and `-f` flags out of a word list. */
export function takeFlags(
  words: string[],
  valued: string[],
): { flags: Record<string, string | true>; rest: string[] } {
  const flags: Record<string, string | true> = {};
  const rest: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (/^--?[a-z][\w-]*$/i.test(w) && !/^-\d/.test(w)) {
      const name = w.replace(/^--?/, '');
      if (valued.includes(name)) {
        const v = words[++i];
        if (v === undefined) throw new Error(`${w} needs a value`);
        flags[name] = v;
      } else flags[name] = true;
    } else rest.push(w);
  }
  return { flags, rest };
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
