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

/** One term's postings as scoring reads them. */
interface Postings {
  /** Documents holding the term. */
  df: number;
  each(fn: (id: number, tf: number) => void): void;
}

/** Postings of a loaded snapshot, kept in their binary form until a term is first used. */
interface Frozen {
  /** The terms, sorted (found by binary search: a load builds no map of them). */
  terms: string[];
  /** Terms thawed into `postings` since: the frozen copy is stale. */
  thawed: Set<string>;
  /** Where each term's postings start in `ids`/`tfs` (one more entry than terms). */
  starts: Uint32Array;
  ids: Uint32Array;
  tfs: Uint32Array;
}

export class KeywordIndex {
  /** Terms in use, as maps of document → term frequency. */
  private readonly postings = new Map<string, Map<number, number>>();
  /** Terms not yet used since a load: thawed into `postings` on first use (a load costs no map per term). */
  private frozen: Frozen | null = null;
  /** Documents removed since the load: their frozen postings are dropped when a term thaws. */
  private readonly gone = new Set<number>();
  private readonly lengths = new Map<number, number>();
  private totalLength = 0;

  get docs(): number {
    return this.lengths.size;
  }

  /** A term's postings, thawed from the snapshot if need be; made if `create`. */
  private term(w: string, create: boolean): Map<number, number> | undefined {
    let p = this.postings.get(w);
    if (p) return p;
    const f = this.frozen;
    const t = f ? frozenTerm(f, w) : -1;
    if (f && t >= 0) {
      f.thawed.add(w);
      p = new Map();
      for (let i = f.starts[t]!; i < f.starts[t + 1]!; i++) {
        const id = f.ids[i]!;
        if (!this.gone.has(id)) p.set(id, f.tfs[i]!);
      }
    } else if (create) p = new Map();
    else return undefined;
    this.postings.set(w, p);
    return p;
  }

  add(id: number, text: string): void {
    this.remove(id);
    const ws = words(text);
    const tf = new Map<string, number>();
    for (const w of ws) tf.set(w, (tf.get(w) ?? 0) + 1);
    for (const [w, n] of tf) this.term(w, true)!.set(id, n);
    this.lengths.set(id, ws.length);
    this.totalLength += ws.length;
  }

  /**
   * Removes a document. With the text it was indexed under, only its terms are visited;
   * without, every term in use is (frozen ones drop it when they thaw).
   */
  remove(id: number, text?: string): void {
    const len = this.lengths.get(id);
    if (len === undefined) return;
    if (this.frozen) this.gone.add(id);
    const visit =
      text !== undefined && words(text).length === len ? new Set(words(text)) : this.postings.keys();
    for (const w of [...visit]) {
      const p = this.postings.get(w);
      if (p?.delete(id) && !p.size) this.postings.delete(w);
    }
    this.lengths.delete(id);
    this.totalLength -= len;
  }

  /** Removes documents whose texts are not known. */
  removeAll(ids: Iterable<number>): void {
    for (const id of ids) this.remove(id);
  }

  /**
   * BM25 scores of the best `limit` documents sharing a term with the query. Exact, but terms
   * are taken rarest first, and once no document outside the current best `limit` could reach
   * them with what the remaining terms can add, those terms only update the candidates (a word
   * in every memory, like "note", then costs a lookup per candidate instead of a pass over all).
   */
  score(query: string, limit: number): Map<number, number> {
    const n = this.lengths.size;
    const avg = n ? this.totalLength / n : 1;
    const terms = [...new Set(words(query))]
      .map((w) => this.view(w))
      .filter((v): v is Postings => !!v && v.df > 0)
      .map((v) => ({ v, idf: Math.log(1 + (n - v.df + 0.5) / (v.df + 0.5)) }))
      .sort((a, b) => b.idf - a.idf);
    // The most a term can add to one document's score: tf → ∞ gives idf·(k1 + 1).
    let rest = terms.reduce((s, t) => s + t.idf * (BM25_K1 + 1), 0);
    const scores = new Map<number, number>();
    let closed = false;
    for (const { v, idf } of terms) {
      if (!closed && scores.size >= limit && rest < kth(scores, limit)) closed = true;
      rest -= idf * (BM25_K1 + 1);
      const open = !closed;
      v.each((id, tf) => {
        const s = scores.get(id);
        if (s === undefined && !open) return;
        const len = this.lengths.get(id);
        if (len === undefined) return; // a posting left by a remove given another text
        scores.set(
          id,
          (s ?? 0) + (idf * tf * (BM25_K1 + 1)) / (tf + BM25_K1 * (1 - BM25_B + (BM25_B * len) / avg)),
        );
      });
    }
    if (scores.size <= limit) return scores;
    return new Map([...scores].sort((a, b) => b[1] - a[1]).slice(0, limit));
  }

  /** A term's postings for reading, frozen or not (reading never thaws a term). */
  private view(w: string): Postings | null {
    const p = this.postings.get(w);
    if (p)
      return {
        df: p.size,
        each: (fn) => {
          for (const [id, tf] of p) fn(id, tf);
        },
      };
    const f = this.frozen;
    const t = f ? frozenTerm(f, w) : -1;
    if (!f || t < 0) return null;
    const from = f.starts[t]!;
    const to = f.starts[t + 1]!;
    const gone = this.gone;
    let df = to - from;
    if (gone.size) for (let i = from; i < to; i++) if (gone.has(f.ids[i]!)) df--;
    return {
      df,
      each: (fn) => {
        for (let i = from; i < to; i++) {
          const id = f.ids[i]!;
          if (!gone.size || !gone.has(id)) fn(id, f.tfs[i]!);
        }
      },
    };
  }

  /**
   * Little-endian binary form: the header, then u32 arrays (postings per term, their document
   * ids, their term frequencies, document ids, document lengths), then the terms as UTF-8
   * separated by newlines (a term never holds one: terms are runs of letters and digits).
   */
  serialize(): Uint8Array {
    // Every term: those in use, and those still frozen (without documents removed since).
    const all: [string, ArrayLike<number>, ArrayLike<number>][] = [];
    let total = 0;
    for (const [w, p] of this.postings) {
      all.push([w, [...p.keys()], [...p.values()]]);
      total += p.size;
    }
    const f = this.frozen;
    if (f)
      for (const [t, w] of f.terms.entries()) {
        if (f.thawed.has(w)) continue;
        const ids: number[] = [];
        const tfs: number[] = [];
        for (let i = f.starts[t]!; i < f.starts[t + 1]!; i++)
          if (!this.gone.has(f.ids[i]!)) {
            ids.push(f.ids[i]!);
            tfs.push(f.tfs[i]!);
          }
        if (!ids.length) continue;
        all.push([w, ids, tfs]);
        total += ids.length;
      }
    all.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const termBytes = new TextEncoder().encode(all.map(([w]) => w).join('\n'));
    const nDocs = this.lengths.size;
    const u32s = all.length + 2 * total + 2 * nDocs;
    const out = new Uint8Array(HEADER + 4 * u32s + termBytes.length);
    const head = new Uint32Array(out.buffer, 0, HEADER / 4);
    head.set([MAGIC, VERSION, all.length, total, nDocs, termBytes.length]);
    const body = new Uint32Array(out.buffer, HEADER, u32s);
    let at = 0;
    for (const [, ids] of all) body[at++] = ids.length;
    for (const [, ids, tfs] of all) {
      body.set(ids, at);
      body.set(tfs, at + total);
      at += ids.length;
    }
    at += total;
    for (const [id, len] of this.lengths) {
      body[at] = id;
      body[at + nDocs] = len;
      at++;
    }
    out.set(termBytes, HEADER + 4 * u32s);
    return out;
  }

  /** Reads `serialize()` output back (terms stay frozen until used); EINVAL if it is malformed. */
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
    const words = nTerms ? new TextDecoder().decode(b.subarray(HEADER + 4 * u32s)).split('\n') : [];
    if (words.length !== nTerms) throw bad('term count differs');
    const starts = new Uint32Array(nTerms! + 1);
    for (let t = 0; t < nTerms!; t++) starts[t + 1] = starts[t]! + body[t]!;
    if (starts[nTerms!] !== total) throw bad('postings do not add up');
    const k = new KeywordIndex();
    for (let t = 1; t < words.length; t++) if (!(words[t - 1]! < words[t]!)) throw bad('terms out of order');
    k.frozen = {
      terms: words,
      thawed: new Set(),
      starts,
      ids: body.subarray(nTerms!, nTerms! + total!),
      tfs: body.subarray(nTerms! + total!, nTerms! + 2 * total!),
    };
    const docs = nTerms! + 2 * total!;
    for (let i = 0; i < nDocs!; i++) {
      const len = body[docs + nDocs! + i]!;
      k.lengths.set(body[docs + i]!, len);
      k.totalLength += len;
    }
    return k;
  }
}

/** A frozen term's number, or -1. */
function frozenTerm(f: Frozen, w: string): number {
  if (f.thawed.has(w)) return -1;
  let lo = 0;
  let hi = f.terms.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = f.terms[mid]!;
    if (x === w) return mid;
    if (x < w) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The `k`-th largest score (k ≤ scores.size). */
function kth(scores: Map<number, number>, k: number): number {
  return Float64Array.from(scores.values()).sort()[scores.size - k]!;
}
