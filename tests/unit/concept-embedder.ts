import type { Embedder } from '../../src/memory/embedder';

/**
 * An embedder with meaning for these tests: words map to the concepts they belong to (the
 * stand-in for a sentence model, whose weights this machine cannot download).
 */
const CONCEPTS: Record<string, number> = {
  hour: 0,
  time: 0,
  date: 0,
  now: 0,
  clock: 0,
  add: 1,
  sum: 1,
  numbers: 1,
  arithmetic: 1,
  calculator: 1,
  math: 1,
  sunny: 2,
  weather: 2,
  temperature: 2,
  forecast: 2,
};
export const conceptEmbedder: Embedder = {
  id: 'concepts-test',
  dim: 3,
  embed: async (texts) =>
    texts.map((t) => {
      const v = new Float32Array(3);
      for (const w of t.toLowerCase().match(/[a-z]+/g) ?? []) if (w in CONCEPTS) v[CONCEPTS[w]!]! += 1;
      return v;
    }),
};
