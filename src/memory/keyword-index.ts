/**
 * The keyword half of hybrid recall: an in-memory inverted index scored with BM25. It is saved
 * with the vector index in long-term memory's snapshot (`serialize`/`load`), so a reopened
 * memory answers keyword queries at once instead of after re-reading every record.
 */
import { SysError } from '../abi/errors';
import { words } from './embedder';

const BM25_K1 = 1.2;
const BM25_B = 0.75;

/** magic u32 "AOKW", version u32, terms u32, postings u32, docs u32, term bytes u32. */
const MAGIC = 0x574b_4f41;
const VERSION = 1;
const HEADER = 24;

export class KeywordIndex {
  private readonly postings = new Map<string, Map<number, number>>();
  private readonly lengths = new Map<number, number>();
  private totalLength = 0;

  get docs(): number {
    return this.lengths.size;
  }

  add(id: number, text: string): void {
    this.remove(id);
    const ws = words(text);
    const tf = new Map<string, number>();
    for (const w of ws) tf.set(w, (tf.get(w) ?? 0) + 1);
    for (const [w, n] of tf) {
      let p = this.postings.get(w);
      if (!p) {
        p = new Map();
        this.postings.set(w, p);
      }
      p.set(id, n);
    }
    this.lengths.set(id, ws.length);
    this.totalLength += ws.length;
  }

  /**
   * Removes a document. With the text it was indexed under, only its terms are visited;
   * without, every term is (a memory of 100k notes has as many distinct words).
   */
  remove(id: number, text?: string): void {
    const len = this.lengths.get(id);
    if (len === undefined) return;
    if (text !== undefined) {
      for (const w of new Set(words(text))) {
        const p = this.postings.get(w);
        p?.delete(id);
        if (p && !p.size) this.postings.delete(w);
      }
    }
    // A changed text (or none given) may have left postings elsewhere: then look everywhere.
    if (text === undefined || words(text).length !== len)
      for (const [w, p] of this.postings) if (p.delete(id) && !p.size) this.postings.delete(w);
    this.lengths.delete(id);
    this.totalLength -= len;
  }

  /** Removes many documents whose texts are not known, in one pass over the terms. */
  removeAll(ids: Iterable<number>): void {
    const gone = new Set<number>();
    for (const id of ids) {
      const len = this.lengths.get(id);
      if (len === undefined) continue;
      gone.add(id);
      this.lengths.delete(id);
      this.totalLength -= len;
    }
    if (!gone.size) return;
    for (const [w, p] of this.postings) {
      for (const id of gone) p.delete(id);
      if (!p.size) this.postings.delete(w);
    }
  }

  /** BM25 scores for documents sharing a term with the query, the best `limit`. */
  score(query: string, limit: number): Map<number, number> {
    const n = this.lengths.size;
    const avg = n ? this.totalLength / n : 1;
    const scores = new Map<number, number>();
    for (const w of new Set(words(query))) {
      const p = this.postings.get(w);
      if (!p) continue;
      const idf = Math.log(1 + (n - p.size + 0.5) / (p.size + 0.5));
      for (const [id, tf] of p) {
        const len = this.lengths.get(id);
        if (len === undefined) continue; // a posting left by a remove given another text
        const s = (idf * tf * (BM25_K1 + 1)) / (tf + BM25_K1 * (1 - BM25_B + (BM25_B * len) / avg));
        scores.set(id, (scores.get(id) ?? 0) + s);
      }
    }
    if (scores.size <= limit) return scores;
    return new Map([...scores].sort((a, b) => b[1] - a[1]).slice(0, limit));
  }

  /**
   * Little-endian binary form: the header, then u32 arrays (postings per term, their document
   * ids, their term frequencies, document ids, document lengths), then the terms as UTF-8
   * separated by newlines (a term never holds one: terms are runs of letters and digits).
   */
  serialize(): Uint8Array {
    const terms = [...this.postings.keys()];
    let total = 0;
    for (const p of this.postings.values()) total += p.size;
    const termBytes = new TextEncoder().encode(terms.join('\n'));
    const nDocs = this.lengths.size;
    const u32s = terms.length + 2 * total + 2 * nDocs;
    const out = new Uint8Array(HEADER + 4 * u32s + termBytes.length);
    const head = new Uint32Array(out.buffer, 0, HEADER / 4);
    head.set([MAGIC, VERSION, terms.length, total, nDocs, termBytes.length]);
    const body = new Uint32Array(out.buffer, HEADER, u32s);
    let at = 0;
    for (const p of this.postings.values()) body[at++] = p.size;
    let ids = at;
    let tfs = at + total;
    for (const p of this.postings.values())
      for (const [id, tf] of p) {
        body[ids++] = id;
        body[tfs++] = tf;
      }
    at += 2 * total;
    for (const [id, len] of this.lengths) {
      body[at] = id;
      body[at + nDocs] = len;
      at++;
    }
    out.set(termBytes, HEADER + 4 * u32s);
    return out;
  }

  /** Reads `serialize()` output back; EINVAL if it is malformed. */
  static load(bytes: Uint8Array): KeywordIndex {
    const bad = (why: string) => new SysError('EINVAL', `keyword index snapshot: ${why}`);
    // Typed views need 4-byte alignment: copy once if the bytes sit at an odd offset.
    const b = bytes.byteOffset % 4 ? bytes.slice() : bytes;
    if (b.length < HEADER) throw bad('shorter than its header');
    const [magic, version, nTerms, total, nDocs, termLen] = new Uint32Array(
      b.buffer,
      b.byteOffset,
      HEADER / 4,
    );
    if (magic !== MAGIC || version !== VERSION) throw bad('not a keyword index of this version');
    const u32s = nTerms! + 2 * total! + 2 * nDocs!;
    if (b.length !== HEADER + 4 * u32s + termLen!) throw bad('its length does not match its header');
    const body = new Uint32Array(b.buffer, b.byteOffset + HEADER, u32s);
    const terms = new TextDecoder().decode(b.subarray(HEADER + 4 * u32s)).split('\n');
    if (terms.length !== nTerms && !(nTerms === 0 && terms.length === 1)) throw bad('term count differs');
    const k = new KeywordIndex();
    let ids = nTerms!;
    let tfs = nTerms! + total!;
    for (let t = 0; t < nTerms!; t++) {
      const count = body[t]!;
      if (ids + count > nTerms! + total!) throw bad('postings overrun');
      const p = new Map<number, number>();
      for (let i = 0; i < count; i++) p.set(body[ids++]!, body[tfs++]!);
      k.postings.set(terms[t]!, p);
    }
    const docs = nTerms! + 2 * total!;
    for (let i = 0; i < nDocs!; i++) {
      const len = body[docs + nDocs! + i]!;
      k.lengths.set(body[docs + i]!, len);
      k.totalLength += len;
    }
    return k;
  }
}
