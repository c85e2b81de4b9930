/**
 * Long-term memory: remember, recall, forget, update, in namespaces. Records
 * live in IndexedDB (the source of truth, acknowledged after commit); the
 * vector index (WASM, int8) and a keyword index are built from them in memory.
 * Recall is hybrid: cosine similarity, keyword match (BM25) and recency, with
 * metadata filters. Only the current embedder's vectors are searched.
 */

import { SysError } from '../abi/errors';
import type { Memory, RecallHit } from '../abi/protocol';
import type { Embedder } from './embedder';
import { words } from './embedder';
import { type DB, type EpisodeRecord, type LtmRecord, storageError, writeTx } from './store';
import {
  createVectorIndex,
  loadVectorIndex,
  openVectorStore,
  type VectorIndex,
  type VectorStore,
} from './vector';

export type { Memory, RecallHit };
export interface RememberItem {
  namespace: string;
  text: string;
  metadata?: Record<string, unknown>;
  /** A precomputed vector from the current embedder (skips embedding). */
  vector?: Float32Array | number[];
}

export interface RecallOptions {
  k?: number;
  /** Namespaces searched; the caller's access control has already narrowed them. */
  namespaces: string[];
  /** Metadata fields that must equal these values. */
  filter?: Record<string, string | number | boolean>;
  since?: number;
  /** How fast recency fades; 0 disables the recency term. */
  recencyHalfLifeMs?: number;
  weights?: { vector?: number; keyword?: number; recency?: number };
}

const BM25_K1 = 1.2;
const BM25_B = 0.75;

/** An in-memory inverted index for the keyword half of hybrid recall. */
class KeywordIndex {
  private readonly postings = new Map<string, Map<number, number>>();
  private readonly lengths = new Map<number, number>();
  private totalLength = 0;

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

  remove(id: number): void {
    const len = this.lengths.get(id);
    if (len === undefined) return;
    for (const p of this.postings.values()) p.delete(id);
    this.lengths.delete(id);
    this.totalLength -= len;
  }

  /** BM25 scores for documents sharing a term with the query. */
  score(query: string, limit: number): Map<number, number> {
    const n = this.lengths.size;
    const avg = n ? this.totalLength / n : 1;
    const scores = new Map<number, number>();
    for (const w of new Set(words(query))) {
      const p = this.postings.get(w);
      if (!p) continue;
      const idf = Math.log(1 + (n - p.size + 0.5) / (p.size + 0.5));
      for (const [id, tf] of p) {
        const len = this.lengths.get(id) ?? avg;
        const s = (idf * tf * (BM25_K1 + 1)) / (tf + BM25_K1 * (1 - BM25_B + (BM25_B * len) / avg));
        scores.set(id, (scores.get(id) ?? 0) + s);
      }
    }
    if (scores.size <= limit) return scores;
    return new Map([...scores].sort((a, b) => b[1] - a[1]).slice(0, limit));
  }
}

export class LongTermMemory {
  private keywords = new KeywordIndex();
  /** Namespace of every record in the index, so recall can filter without reading IndexedDB. */
  private readonly nsOf = new Map<number, string>();

  /** Records changed (updated or forgotten) since the last snapshot, with when; kept in `kv`. */
  private dirty = new Map<number, number>();
  private snapshotTimer: ReturnType<typeof setTimeout> | null = null;
  private changesSinceSnapshot = 0;
  /** Set while the keyword index is still being built from the store (after a snapshot load). */
  keywordsReady: Promise<void> = Promise.resolve();
  /** How the last open got its index: from a snapshot, or rebuilt from every record. */
  loadedFrom: 'snapshot' | 'records' = 'records';

  private constructor(
    private readonly db: DB,
    public embedder: Embedder,
    private index: VectorIndex,
    private readonly snapshots: VectorStore | null,
  ) {}

  /**
   * Opens the memory. With a snapshot of the index (binary, in IndexedDB) it loads
   * that and reconciles what changed since (new ids above its watermark, records
   * marked dirty); the keyword index then fills in the background. Without one it
   * rebuilds from the records.
   */
  static async open(db: DB, embedder: Embedder, opts: { snapshots?: boolean } = {}): Promise<LongTermMemory> {
    const snapshots =
      opts.snapshots && globalThis.indexedDB ? await openVectorStore().catch(() => null) : null;
    const loaded = snapshots
      ? await LongTermMemory.fromSnapshot(db, embedder, snapshots).catch(() => null)
      : null;
    if (loaded) return loaded;
    const ltm = new LongTermMemory(db, embedder, await createVectorIndex(embedder.dim), snapshots);
    await ltm.rebuild();
    return ltm;
  }

  private static snapshotKey(embedder: Embedder): string {
    return `ltm.snapshot.${embedder.id}`;
  }

  private static async fromSnapshot(
    db: DB,
    embedder: Embedder,
    snapshots: VectorStore,
  ): Promise<LongTermMemory | null> {
    const meta = (await db.get('kv', LongTermMemory.snapshotKey(embedder))) as SnapshotMeta | undefined;
    if (!meta) return null;
    const bytes = await snapshots.loadBytes(`ltm:${embedder.id}`);
    if (!bytes) return null;
    const index = await loadVectorIndex(bytes);
    if (index.size !== meta.count || index.dim !== embedder.dim) {
      index.dispose();
      return null; // the snapshot and its meta disagree: rebuild from the records
    }
    const ltm = new LongTermMemory(db, embedder, index, snapshots);
    for (const [ns, ids] of Object.entries(meta.namespaces)) for (const id of ids) ltm.nsOf.set(id, ns);
    const dirty = ((await db.get('kv', 'ltm.dirty')) as [number, number][] | undefined) ?? [];
    ltm.dirty = new Map(dirty);
    // Reconcile: records changed after the snapshot, and records added after it.
    const changed = dirty.filter(([, t]) => t >= meta.savedAt).map(([id]) => id);
    const newer = await db.getAll('ltm', IDBKeyRange.lowerBound(meta.maxId, true));
    for (const id of changed) {
      const r = await db.get('ltm', id);
      if (!r || r.embedder !== embedder.id) {
        index.remove(id);
        ltm.nsOf.delete(id);
      } else ltm.indexRecord(r, false);
    }
    for (const r of newer) if (r.embedder === embedder.id) ltm.indexRecord(r, false);
    ltm.keywordsReady = ltm.buildKeywords();
    ltm.loadedFrom = 'snapshot';
    return ltm;
  }

  /** Fills the keyword index from the store, in the background. */
  private async buildKeywords(): Promise<void> {
    let cursor = await this.db.transaction('ltm').store.openCursor();
    while (cursor) {
      const r = cursor.value;
      if (r.embedder === this.embedder.id && this.nsOf.has(r.id!)) this.keywords.add(r.id!, r.text);
      cursor = await cursor.continue();
    }
  }

  private indexRecord(r: LtmRecord, keywords = true): void {
    this.index.add([r.id!], [new Float32Array(r.vector)]);
    this.nsOf.set(r.id!, r.namespace);
    if (keywords) this.keywords.add(r.id!, r.text);
  }

  /** Saves the index's binary snapshot with its watermark, so the next open loads it instead of every record. */
  async snapshot(): Promise<void> {
    if (!this.snapshots) return;
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    this.changesSinceSnapshot = 0;
    const savedAt = Date.now();
    const keys = await this.db.getAllKeys('ltm');
    const maxId = keys.length ? Number(keys[keys.length - 1]) : 0;
    const namespaces: Record<string, number[]> = {};
    for (const [id, ns] of this.nsOf) {
      namespaces[ns] ??= [];
      namespaces[ns].push(id);
    }
    const count = this.index.size;
    await this.snapshots.save(`ltm:${this.embedder.id}`, this.index);
    const meta: SnapshotMeta = { savedAt, maxId, count, namespaces };
    await writeTx(this.db, ['kv'], 'snapshot', async (tx) => {
      await tx.objectStore('kv').put(meta, LongTermMemory.snapshotKey(this.embedder));
      // Changes older than this snapshot are in it; newer ones stay marked.
      for (const [id, t] of this.dirty) if (t < savedAt) this.dirty.delete(id);
      await tx.objectStore('kv').put([...this.dirty], 'ltm.dirty');
    });
  }

  get size(): number {
    return this.index.size;
  }

  private async rebuild(): Promise<void> {
    const BATCH = 2000;
    let cursor = await this.db.transaction('ltm').store.openCursor();
    let ids: number[] = [];
    let vecs: Float32Array[] = [];
    const flush = () => {
      if (ids.length) this.index.add(ids, vecs);
      ids = [];
      vecs = [];
    };
    while (cursor) {
      const r = cursor.value;
      // Vectors of another embedder (a re-index in progress) are never mixed into this index.
      if (r.embedder === this.embedder.id) {
        ids.push(r.id!);
        vecs.push(new Float32Array(r.vector));
        this.nsOf.set(r.id!, r.namespace);
        this.keywords.add(r.id!, r.text);
        if (ids.length >= BATCH) flush();
      }
      cursor = await cursor.continue();
    }
    flush();
  }

  /** Saves a snapshot now if anything changed since the last (e.g. when a tab says goodbye). */
  async snapshotIfChanged(): Promise<void> {
    if (this.changesSinceSnapshot > 0) await this.snapshot();
  }

  /**
   * Snapshots once writes pause (2 s without a change), so a burst of writes costs one
   * snapshot after it rather than competing with it; a very long burst still gets one.
   */
  private changed(n: number): void {
    this.changesSinceSnapshot += n;
    if (!this.snapshots) return;
    if (this.snapshotTimer) {
      if (this.changesSinceSnapshot < 100_000) clearTimeout(this.snapshotTimer);
      else return;
    }
    this.snapshotTimer = setTimeout(() => void this.snapshot().catch(() => {}), 2000);
  }

  /**
   * Stores a batch in one transaction; resolves with the ids once it has committed.
   * `episode`, if given, makes the log record of this write, stored in the same transaction.
   */
  async remember(items: RememberItem[], episode?: (ids: number[]) => EpisodeRecord): Promise<number[]> {
    if (!items.length) return [];
    const need = items.filter((i) => !i.vector).map((i) => i.text);
    const made = need.length ? await this.embedder.embed(need) : [];
    let m = 0;
    const vectors = items.map((i) => {
      const v = i.vector
        ? i.vector instanceof Float32Array
          ? i.vector
          : Float32Array.from(i.vector)
        : made[m++]!;
      if (v.length !== this.embedder.dim) {
        throw new SysError(
          'EINVAL',
          `vector has ${v.length} dimensions; the embedder ${this.embedder.id} makes ${this.embedder.dim}`,
        );
      }
      return v;
    });
    const now = Date.now();
    const ids: number[] = await writeTx(this.db, ['ltm', 'episodes'], 'remember', async (tx) => {
      const added = await Promise.all(
        items.map((it, i) =>
          tx.objectStore('ltm').add({
            namespace: it.namespace,
            text: it.text,
            metadata: it.metadata ?? {},
            embedder: this.embedder.id,
            vector: vectors[i]!.buffer.slice(0) as ArrayBuffer,
            createdAt: now,
            updatedAt: now,
          }),
        ),
      );
      if (episode) await tx.objectStore('episodes').put(episode(added));
      return added;
    });
    // Only now, after commit, do the in-memory indexes learn of them: they never run ahead of the store.
    this.index.add(ids, vectors);
    ids.forEach((id, i) => {
      this.nsOf.set(id, items[i]!.namespace);
      this.keywords.add(id, items[i]!.text);
    });
    this.changed(ids.length);
    return ids;
  }

  async get(id: number): Promise<Memory | null> {
    const r = await this.db.get('ltm', id).catch((e: unknown) => {
      throw storageError(e, 'get');
    });
    return r ? toMemory(r) : null;
  }

  namespaceOf(id: number): string | undefined {
    return this.nsOf.get(id);
  }

  namespaces(): string[] {
    return [...new Set(this.nsOf.values())];
  }

  async forget(id: number): Promise<boolean> {
    const now = Date.now();
    const existed = await writeTx(this.db, ['ltm', 'kv'], 'forget', async (tx) => {
      const had = await tx.objectStore('ltm').get(id);
      if (had) {
        await tx.objectStore('ltm').delete(id);
        await tx.objectStore('kv').put([...this.dirty, [id, now]], 'ltm.dirty');
      }
      return !!had;
    });
    if (existed) {
      this.dirty.set(id, now);
      this.changed(1);
    }
    if (existed) {
      this.index.remove(id);
      this.keywords.remove(id);
      this.nsOf.delete(id);
    }
    return existed;
  }

  async update(id: number, patch: { text?: string; metadata?: Record<string, unknown> }): Promise<Memory> {
    const vector = patch.text !== undefined ? (await this.embedder.embed([patch.text]))[0]! : null;
    const now = Date.now();
    const rec = await writeTx(this.db, ['ltm', 'kv'], 'update', async (tx) => {
      await tx.objectStore('kv').put([...this.dirty, [id, now]], 'ltm.dirty');
      const r = await tx.objectStore('ltm').get(id);
      if (!r) throw new SysError('ENOENT', `no memory ${id}`);
      if (patch.text !== undefined) r.text = patch.text;
      if (patch.metadata !== undefined) r.metadata = patch.metadata;
      if (vector) {
        r.vector = vector.buffer.slice(0) as ArrayBuffer;
        r.embedder = this.embedder.id;
      }
      r.updatedAt = Date.now();
      await tx.objectStore('ltm').put(r);
      return r;
    });
    if (vector) this.index.add([id], [vector]);
    this.keywords.add(id, rec.text);
    this.dirty.set(id, now);
    this.changed(1);
    return toMemory(rec);
  }

  async recall(query: string, opts: RecallOptions): Promise<RecallHit[]> {
    const k = opts.k ?? 5;
    const allowed = new Set(opts.namespaces);
    if (!allowed.size || k <= 0) return [];
    const w = { vector: 0.7, keyword: 0.3, recency: 0.05, ...(opts.weights ?? {}) };
    const [qv] = await this.embedder.embed([query]);
    // Over-fetch, since namespace and metadata filters drop candidates after the search.
    const fetch = Math.min(10_000, Math.max(50, k * 10));
    const vec = new Map(this.index.search(qv!, fetch).map((h) => [h.id, h.score]));
    const kw = this.keywords.score(query, fetch);
    const maxKw = Math.max(1e-9, ...kw.values());
    const ids = [...new Set([...vec.keys(), ...kw.keys()])].filter((id) =>
      allowed.has(this.nsOf.get(id) ?? ''),
    );
    const tx = this.db.transaction('ltm');
    const rows = await Promise.all(ids.map((id) => tx.store.get(id)));
    const now = Date.now();
    const half = opts.recencyHalfLifeMs ?? 7 * 24 * 3600 * 1000;
    const hits: RecallHit[] = [];
    for (const r of rows) {
      if (!r) continue;
      if (opts.since !== undefined && r.updatedAt < opts.since) continue;
      if (opts.filter && !Object.entries(opts.filter).every(([key, val]) => r.metadata[key] === val))
        continue;
      const vectorScore = vec.get(r.id!) ?? 0;
      const keywordScore = (kw.get(r.id!) ?? 0) / maxKw;
      const recency = half > 0 ? Math.exp((-Math.LN2 * (now - r.updatedAt)) / half) : 0;
      hits.push({
        ...toMemory(r),
        vectorScore,
        keywordScore,
        score: w.vector * vectorScore + w.keyword * keywordScore + w.recency * recency,
      });
    }
    hits.sort((a, b) => b.score - a.score);
    return hits.slice(0, k);
  }

  /**
   * Moves to another embedder: re-embeds every record in the background, in
   * batches (one transaction each), reporting progress; recall keeps using the
   * old index until the new one is complete, then swaps.
   */
  async reindex(next: Embedder, onProgress?: (done: number, total: number) => void): Promise<void> {
    const keys = await this.db.getAllKeys('ltm');
    const index = await createVectorIndex(next.dim);
    const BATCH = 256;
    for (let i = 0; i < keys.length; i += BATCH) {
      const slice = keys.slice(i, i + BATCH);
      const recs = (await Promise.all(slice.map((k) => this.db.get('ltm', k)))).filter(
        (r): r is LtmRecord => !!r,
      );
      const vecs = await next.embed(recs.map((r) => r.text));
      await writeTx(this.db, ['ltm'], 'reindex', async (tx) => {
        for (let j = 0; j < recs.length; j++) {
          const r = recs[j]!;
          r.vector = vecs[j]!.buffer.slice(0) as ArrayBuffer;
          r.embedder = next.id;
          await tx.objectStore('ltm').put(r);
        }
      });
      index.add(
        recs.map((r) => r.id!),
        vecs,
      );
      onProgress?.(Math.min(keys.length, i + BATCH), keys.length);
    }
    const old = this.index;
    this.index = index;
    this.embedder = next;
    old.dispose();
  }
}

interface SnapshotMeta {
  savedAt: number;
  /** Highest record id when the snapshot was taken: records above it are newer. */
  maxId: number;
  count: number;
  namespaces: Record<string, number[]>;
}

function toMemory(r: LtmRecord): Memory {
  return {
    id: r.id!,
    namespace: r.namespace,
    text: r.text,
    metadata: r.metadata,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}
