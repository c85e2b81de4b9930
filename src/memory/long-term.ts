/**
 * Long-term memory: remember, recall, forget, update, in namespaces. Records
 * live in IndexedDB (the source of truth, acknowledged after commit); the
 * vector index (WASM, int8) and a keyword index are built from them in memory.
 * Recall is hybrid: cosine similarity, keyword match (BM25) and recency, with
 * metadata filters. Only the current embedder's vectors are searched.
 */

import { SysError } from '../abi/errors';
import type { Memory, RecallHit } from '../abi/protocol';
import { nextTask } from '../kernel/next-task';
import type { Embedder } from './embedder';
import { GroupCommit } from './group-commit';
import { KeywordIndex } from './keyword-index';
import { decodeSnapshot, encodeSnapshot } from './ltm-snapshot';
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

/** A remember() waiting for its transaction. */
interface PendingWrite {
  items: RememberItem[];
  vectors: Float32Array[];
  episode?: (ids: number[]) => EpisodeRecord;
}

/** The most records one shared transaction holds (about 9 MB with 384-d vectors). */
const GROUP_RECORDS = 5000;

/** A mark on the kernel's start timeline (kernel/boot-trace.ts reads `boot:*`). */
const mark = (name: string) => performance.mark?.(`boot:${name}`);

export class LongTermMemory {
  private keywords = new KeywordIndex();
  /** Namespace of every record in the index, so recall can filter without reading IndexedDB. */
  private nsOf = new Map<number, string>();

  /** Records changed (updated or forgotten) since the last snapshot, with when; kept in `kv`. */
  private dirty = new Map<number, number>();
  private snapshotTimer: ReturnType<typeof setTimeout> | null = null;
  private changesSinceSnapshot = 0;
  /** Highest record id in memory: a snapshot's watermark (ids only grow, and commits apply in order). */
  private maxId = 0;
  /** How the last open got its index: from a snapshot, or rebuilt from every record. */
  loadedFrom: 'snapshot' | 'records' = 'records';
  /**
   * Records whose stored vector cannot be indexed (zero, NaN/Infinity, wrong dimension),
   * with why: kept out of recall, still forgettable, re-embedded by update or a re-index.
   * One bad record never takes the store down.
   */
  readonly quarantined = new Map<number, string>();

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
    mark('vectors.db');
    const loaded = snapshots
      ? await LongTermMemory.fromSnapshot(db, embedder, snapshots).catch(() => null)
      : null;
    if (loaded) return loaded;
    const ltm = new LongTermMemory(db, embedder, await createVectorIndex(embedder.dim), snapshots);
    await ltm.rebuild();
    // Rebuilt from every record (no snapshot, an older format, or a damaged one): save one, so the
    // next open does not read them all again.
    if (ltm.nsOf.size) ltm.changed(ltm.nsOf.size);
    return ltm;
  }

  private static snapshotName(embedder: Embedder): string {
    return `ltm:${embedder.id}`;
  }

  private static async fromSnapshot(
    db: DB,
    embedder: Embedder,
    snapshots: VectorStore,
  ): Promise<LongTermMemory | null> {
    const [bytes, dirtyList] = await Promise.all([
      snapshots.loadBytes(LongTermMemory.snapshotName(embedder)),
      db.get('kv', 'ltm.dirty') as Promise<[number, number][] | undefined>,
    ]);
    mark('ltm.bytes');
    if (!bytes) return null;
    // Each step below is tens of ms of this thread at 100k memories (more on a busy machine): between
    // them the kernel answers what else is waiting (a tab's calls, agents' heartbeats) instead of
    // stalling for the whole load. A recall waits for the memory to be open, not for an empty index.
    await nextTask();
    const snap = decodeSnapshot(bytes);
    mark('ltm.decoded');
    await nextTask();
    const index = await loadVectorIndex(snap.vectors);
    mark('ltm.vectors');
    await nextTask();
    if (index.dim !== embedder.dim || index.size !== snap.namespaces.size) {
      index.dispose();
      return null; // the parts disagree: rebuild from the records
    }
    const ltm = new LongTermMemory(db, embedder, index, snapshots);
    ltm.keywords = KeywordIndex.load(snap.keywords);
    mark('ltm.keywords');
    await nextTask();
    ltm.nsOf = snap.namespaces;
    ltm.maxId = snap.maxId;
    const dirty = dirtyList ?? [];
    ltm.dirty = new Map(dirty);
    // Reconcile: records changed after the snapshot, records added after it, and the ones it set
    // aside as unindexable (read again, so each is quarantined with its reason and can be forgotten).
    const changed = [...new Set(dirty.filter(([, t]) => t >= snap.savedAt).map(([id]) => id))];
    const recheck = snap.quarantined.filter((id) => !changed.includes(id));
    const tx = db.transaction('ltm');
    const [newer, again] = await Promise.all([
      tx.store.getAll(IDBKeyRange.lowerBound(snap.maxId, true)),
      Promise.all([...changed, ...recheck].map((id) => tx.store.get(id))),
    ]);
    // Their old texts are not known; the loaded keyword index drops them as its terms thaw.
    ltm.keywords.removeAll(changed);
    changed.forEach((id, i) => {
      const r = again[i];
      if (!r || r.embedder !== embedder.id) {
        index.remove(id);
        ltm.nsOf.delete(id);
      } else ltm.indexRecord(r);
    });
    for (const r of [...again.slice(changed.length), ...newer])
      if (r && r.embedder === embedder.id) ltm.indexRecord(r);
    ltm.loadedFrom = 'snapshot';
    mark('ltm.reconciled');
    return ltm;
  }

  private indexRecord(r: LtmRecord): void {
    this.nsOf.set(r.id!, r.namespace);
    this.maxId = Math.max(this.maxId, r.id!);
    const v = this.loadable(r);
    if (!v) return;
    this.index.add([r.id!], [v]);
    this.keywords.add(r.id!, r.text);
  }

  /** A stored record's vector as a unit vector, or null (and the record quarantined) if it has none. */
  private loadable(r: LtmRecord): Float32Array | null {
    try {
      if (!(r.vector instanceof ArrayBuffer)) throw new SysError('EINVAL', 'no stored vector');
      return unitVector(new Float32Array(r.vector), this.embedder.dim, `memory ${r.id}`);
    } catch (e) {
      this.quarantined.set(r.id!, (e as Error).message);
      return null;
    }
  }

  /** Saves the snapshot (vectors, keywords, namespaces, watermark) so the next open loads it instead of every record. */
  async snapshot(): Promise<void> {
    if (!this.snapshots) return;
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    this.changesSinceSnapshot = 0;
    // Taken in one synchronous step, so its parts agree with each other and with `maxId`.
    const savedAt = Date.now();
    const namespaces = new Map<number, string>();
    for (const [id, ns] of this.nsOf) if (!this.quarantined.has(id)) namespaces.set(id, ns);
    const bytes = encodeSnapshot({
      savedAt,
      maxId: this.maxId,
      vectors: this.index.serialize(),
      keywords: this.keywords.serialize(),
      namespaces,
      quarantined: [...this.quarantined.keys()],
    });
    await this.snapshots.save(LongTermMemory.snapshotName(this.embedder), bytes);
    await writeTx(this.db, ['kv'], 'snapshot', async (tx) => {
      // The meta record of the previous format: the snapshot now carries its own.
      await tx.objectStore('kv').delete(`ltm.snapshot.${this.embedder.id}`);
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
        this.nsOf.set(r.id!, r.namespace);
        this.maxId = Math.max(this.maxId, r.id!);
        const v = this.loadable(r);
        if (v) {
          ids.push(r.id!);
          vecs.push(v);
          this.keywords.add(r.id!, r.text);
          if (ids.length >= BATCH) flush();
        }
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
   * Stores a batch; resolves with the ids once the transaction holding it has committed.
   * `episode`, if given, makes the log record of this write, stored in the same transaction.
   * Batches that arrive while another commits share the next transaction (group-commit.ts).
   */
  async remember(items: RememberItem[], episode?: (ids: number[]) => EpisodeRecord): Promise<number[]> {
    if (!items.length) return [];
    const need = items.filter((i) => !i.vector).map((i) => i.text);
    const made = need.length ? await this.embedder.embed(need) : [];
    let m = 0;
    // Every vector is checked (and made a unit vector of its own) before anything is written.
    const vectors = items.map((i, n) =>
      unitVector(i.vector ? i.vector : made[m++]!, this.embedder.dim, `item ${n}'s vector`, this.embedder.id),
    );
    return this.writes.submit({ items, vectors, ...(episode ? { episode } : {}) });
  }

  private readonly writes = new GroupCommit<PendingWrite, number[]>(
    (group) => this.commitWrites(group),
    (w) => w.items.length,
    GROUP_RECORDS,
  );

  /** One transaction for a group of batches, each with its log record; the indexes learn of them after commit. */
  private async commitWrites(group: PendingWrite[]): Promise<number[][]> {
    const now = Date.now();
    const ids = await writeTx(this.db, ['ltm', 'episodes'], 'remember', async (tx) => {
      const store = tx.objectStore('ltm');
      const added = await Promise.all(
        group.map((w) =>
          Promise.all(
            w.items.map((it, i) =>
              store.add({
                namespace: it.namespace,
                text: it.text,
                metadata: it.metadata ?? {},
                embedder: this.embedder.id,
                vector: w.vectors[i]!.buffer as ArrayBuffer,
                createdAt: now,
                updatedAt: now,
              }),
            ),
          ),
        ),
      );
      await Promise.all(
        group.map((w, g) => (w.episode ? tx.objectStore('episodes').put(w.episode(added[g]!)) : null)),
      );
      return added;
    });
    // Only now, after commit, do the in-memory indexes learn of them: they never run ahead of the store.
    let n = 0;
    group.forEach((w, g) => {
      const got = ids[g]!;
      this.index.add(got, w.vectors);
      got.forEach((id, i) => {
        this.nsOf.set(id, w.items[i]!.namespace);
        this.maxId = Math.max(this.maxId, id);
        this.keywords.add(id, w.items[i]!.text);
      });
      n += got.length;
    });
    this.changed(n);
    return ids;
  }

  async get(id: number): Promise<Memory | null> {
    const r = await this.db.get('ltm', id).catch((e: unknown) => {
      throw storageError(e, 'get');
    });
    return r ? toMemory(r) : null;
  }

  /** The newest memories first (ids grow with time), in the given namespaces, `limit` at most. */
  async list(opts: { namespaces: string[]; limit: number }): Promise<Memory[]> {
    const allowed = new Set(opts.namespaces);
    const ids = [...this.nsOf.entries()]
      .filter(([, ns]) => allowed.has(ns))
      .map(([id]) => id)
      .sort((a, b) => b - a)
      .slice(0, opts.limit);
    const tx = this.db.transaction('ltm');
    const rows = await Promise.all(ids.map((id) => tx.store.get(id))).catch((e: unknown) => {
      throw storageError(e, 'list');
    });
    return rows.flatMap((r) => (r ? [toMemory(r)] : []));
  }

  namespaceOf(id: number): string | undefined {
    return this.nsOf.get(id);
  }

  namespaces(): string[] {
    return [...new Set(this.nsOf.values())];
  }

  async forget(id: number): Promise<boolean> {
    const now = Date.now();
    const had = await writeTx(this.db, ['ltm', 'kv'], 'forget', async (tx) => {
      const r = await tx.objectStore('ltm').get(id);
      if (r) {
        await tx.objectStore('ltm').delete(id);
        await tx.objectStore('kv').put([...this.dirty, [id, now]], 'ltm.dirty');
      }
      return r;
    });
    if (!had) return false;
    this.dirty.set(id, now);
    this.changed(1);
    this.quarantined.delete(id);
    this.index.remove(id);
    this.keywords.remove(id, had.text);
    this.nsOf.delete(id);
    return true;
  }

  async update(id: number, patch: { text?: string; metadata?: Record<string, unknown> }): Promise<Memory> {
    const vector =
      patch.text !== undefined
        ? unitVector(
            (await this.embedder.embed([patch.text]))[0]!,
            this.embedder.dim,
            'the new text’s vector',
          )
        : null;
    const now = Date.now();
    let oldText = '';
    const rec = await writeTx(this.db, ['ltm', 'kv'], 'update', async (tx) => {
      await tx.objectStore('kv').put([...this.dirty, [id, now]], 'ltm.dirty');
      const r = await tx.objectStore('ltm').get(id);
      if (!r) throw new SysError('ENOENT', `no memory ${id}`);
      oldText = r.text;
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
    if (vector) {
      this.index.add([id], [vector]);
      this.quarantined.delete(id);
    }
    this.keywords.remove(id, oldText);
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
      const vecs = (await next.embed(recs.map((r) => r.text))).map((v, j) =>
        unitVector(v, next.dim, `memory ${recs[j]!.id}`, next.id),
      );
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
    this.quarantined.clear(); // every record has a fresh vector now
    old.dispose();
  }
}

/**
 * `v` as a new unit vector of `dim` 32-bit floats, or EINVAL: wrong dimension, NaN or
 * Infinity, or the zero vector. Scaled by its largest component first, so huge or tiny
 * finite values normalise without overflow or underflow.
 */
export function unitVector(v: ArrayLike<number>, dim: number, what: string, embedder?: string): Float32Array {
  if (v.length !== dim)
    throw new SysError(
      'EINVAL',
      `${what} has ${v.length} dimensions; ${embedder ? `the embedder ${embedder} makes` : 'expected'} ${dim}`,
    );
  let big = 0;
  for (let i = 0; i < dim; i++) {
    const x = v[i]!;
    if (!Number.isFinite(x)) throw new SysError('EINVAL', `${what} contains NaN or Infinity at ${i}`);
    big = Math.max(big, Math.abs(x));
  }
  if (big === 0) throw new SysError('EINVAL', `${what} is the zero vector (it has no direction to compare)`);
  let ss = 0;
  for (let i = 0; i < dim; i++) ss += (v[i]! / big) ** 2;
  const inv = 1 / (big * Math.sqrt(ss));
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = v[i]! * inv;
  for (let i = 0; i < dim; i++) if (out[i] !== 0) return out;
  throw new SysError('EINVAL', `${what} is the zero vector at 32-bit precision`);
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
