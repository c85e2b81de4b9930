/**
 * Embedders turn text into vectors for long-term memory. Every vector records
 * the embedder that made it (its id), and vectors of two embedders never mix.
 * The hashing embedder works offline with no download: words and their
 * character trigrams, hashed into 384 signed dimensions (the feature-hashing
 * trick). It matches shared words and word forms, not meaning; the
 * transformers.js sentence embedder (all-MiniLM-L6-v2, 384-d) matches meaning.
 */
import { fnv1a } from '../kernel/hash';

export interface Embedder {
  /** Stable id stored with each vector, e.g. 'hash-384-v1'. */
  readonly id: string;
  readonly dim: number;
  embed(texts: string[]): Promise<Float32Array[]>;
}

const WORD = /[\p{L}\p{N}]+/gu;

export function words(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []).filter((w) => w.length > 1 || /\d/.test(w));
}

export class HashingEmbedder implements Embedder {
  readonly id: string;
  constructor(readonly dim = 384) {
    this.id = `hash-${dim}-v1`;
  }

  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dim);
    const add = (feature: string, weight: number) => {
      const h = fnv1a(feature);
      v[h % this.dim]! += (h & 0x80000000 ? -1 : 1) * weight;
    };
    for (const w of words(text)) {
      add(`w:${w}`, 1);
      const padded = `^${w}$`;
      for (let i = 0; i + 3 <= padded.length; i++) add(`t:${padded.slice(i, i + 3)}`, 0.35);
    }
    let ss = 0;
    for (let i = 0; i < v.length; i++) ss += v[i]! * v[i]!;
    if (ss === 0)
      v[0] = 1; // empty text still gets a direction, so it can be stored
    else {
      const inv = 1 / Math.sqrt(ss);
      for (let i = 0; i < v.length; i++) v[i]! *= inv;
    }
    return v;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }
}
