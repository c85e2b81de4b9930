/**
 * The long-term-memory index past the size where a flat scan stops being the fastest: an
 * inverted file (IVF) over the same int8 codes and WASM SIMD kernel as `FlatI8Index`.
 *
 * Below `trainAt` vectors it IS a flat scan (one list, no centroids): exact up to
 * quantisation. Once it holds `trainAt` vectors it trains `nlist` centroids by spherical
 * k-means on a sample, files every row under its nearest centroid, and lays each list out
 * contiguously, so a query scores the centroids (one small scan), then scans only the
 * `nprobe` nearest lists into one top-k heap (`searchMore`). Why IVF and not a graph (HNSW):
 * the codes stay the only per-vector storage (≈ 1.03× the int8 codes: no links, no floats),
 * build is one k-means plus one pass (seconds, not minutes), a list scan runs at the SIMD
 * kernel's full speed on contiguous memory, and add/remove stay O(dim) (lists keep slack;
 * a full list triggers one O(n) relayout). Numbers: bench/vector.ts, README's peer table.
 *
 * Training runs in the background, in time slices (time-slice.ts): the thread that owns the
 * index (in the OS, the kernel) keeps answering between slices, and the index keeps answering
 * from its current layout until the trained one is swapped in; `idle()` waits for it.
 *
 * Scores are the int8 estimates, as in the flat index; recall is against exact float search.
 *
 * WASM memory: int8-codes.ts (`Int8Rows`), each list's slots contiguous with room after them;
 * the centroids have a kernel of their own (ivf-centroids.ts).
 */
import { SysError } from '../../abi/errors';
import {
  checkScales,
  heapHits,
  Int8Rows,
  instantiateKernel,
  type KernelExports,
  loadQuery,
  moveRow,
  packCodes,
  quantizeBatch,
  unpackCodes,
} from './int8-codes';
import { Centroids, MAX_NLIST } from './ivf-centroids';
import { prng } from './synthetic';
import { TimeSlice } from './time-slice';
import {
  checkBatch,
  checkDim,
  checkK,
  HEADER_BYTES,
  normalizedQuery,
  readHeader,
  type SearchHit,
  type VectorBatch,
  type VectorId,
  type VectorIndex,
  writeHeader,
} from './vector-index';

export { MAX_NLIST } from './ivf-centroids';

export interface IvfOptions {
  /** Size at which the index trains centroids and stops scanning everything (default 20,000). */
  trainAt?: number;
  /** Lists probed per query; by default tuned at training time to a recall target (see `tuneProbe`). */
  nprobe?: number;
  /** Seed of the k-means sample and initial centroids (builds are deterministic). */
  seed?: number;
}

const KMEANS_ITERS = 5;
/** Sample rows per centroid for k-means. */
const SAMPLE_PER_LIST = 24;
/** Stored rows used as queries when tuning nprobe, and the share of the exact int8 top-10 they must find. */
const TUNE_QUERIES = 48;
const TUNE_TARGET = 0.98;
/** Rows the grouped filing of centroids is checked on (see Centroids.checkGrouping). */
const GROUPING_CHECKS = 200;

/** Centroids for `n` rows: ~2·√n balances the centroid scan against the list scans. */
export function defaultNlist(n: number): number {
  return Math.max(16, Math.min(MAX_NLIST, Math.round(2 * Math.sqrt(n))));
}

export class IvfI8Index extends Int8Rows implements VectorIndex {
  readonly kind = 'ivf-i8' as const;
  /** null = untrained: one list holding every row, scanned in full (the flat mode). */
  private cents: Centroids | null = null;
  private probe: number;
  /** Per list: first slot, live rows, room (slots). Lists sit in order, each [start, start+room). */
  private start = new Uint32Array(1);
  private len = new Uint32Array(1);
  private room = new Uint32Array(1);
  private count = 0;
  /** Size at the last training; retrain once the index has grown 4× past it. */
  private trainedAt = 0;
  /** Grouped filing failed its check at the last training: file exactly from then on. */
  private coarseOff = false;
  /** The background training, while it runs; ids added (or replaced) and removed meanwhile, applied at the swap. */
  private training: Promise<void> | null = null;
  private touched: Set<VectorId> | null = null;
  private gone: Set<VectorId> | null = null;
  /** Size below which a failed training is not tried again. */
  private retryAt = 0;
  private readonly trainAt: number;
  private readonly fixedProbe: number | undefined;
  private readonly seed: number;

  private constructor(dim: number, wasm: KernelExports, opts: IvfOptions) {
    // Grows by 1.125×: WASM memory never shrinks, so a smaller step keeps what an index holds near its size.
    super(dim, wasm, 1.125);
    this.trainAt = opts.trainAt ?? 20_000;
    if (!Number.isInteger(this.trainAt) || this.trainAt < 64)
      throw new SysError('EINVAL', `trainAt must be an integer ≥ 64, got ${opts.trainAt}`);
    if (opts.nprobe !== undefined && (!Number.isInteger(opts.nprobe) || opts.nprobe < 1))
      throw new SysError('EINVAL', `nprobe must be a positive integer, got ${opts.nprobe}`);
    this.fixedProbe = opts.nprobe;
    this.probe = 1;
    this.seed = opts.seed ?? 1;
    this.reserve(64);
  }

  static async create(dim: number, opts: IvfOptions = {}): Promise<IvfI8Index> {
    checkDim(dim);
    return new IvfI8Index(dim, await instantiateKernel(), opts);
  }

  get size(): number {
    return this.count;
  }

  /** Lists in use (0 while the index is a flat scan). */
  get lists(): number {
    return this.cents?.n ?? 0;
  }

  /** Lists a query scans; settable to trade speed for recall. */
  get nprobe(): number {
    return this.probe;
  }
  set nprobe(p: number) {
    if (!Number.isInteger(p) || p < 1)
      throw new SysError('EINVAL', `nprobe must be a positive integer, got ${p}`);
    this.probe = this.cents ? Math.min(p, this.cents.n) : 1;
  }

  /** Whether a background training is running (queries meanwhile use the layout before it). */
  get isTraining(): boolean {
    return this.training !== null;
  }

  /** Resolves once no background training is running (one that a finished one started included). */
  async idle(): Promise<void> {
    while (this.training) await this.training;
  }

  /** Bytes of WASM memory held (the codes dominate), the centroids' kernel included. */
  override get memoryBytes(): number {
    return super.memoryBytes + (this.cents?.memoryBytes ?? 0);
  }

  add(ids: ArrayLike<VectorId>, vectors: VectorBatch): void {
    const w = this.live();
    const rows = checkBatch(ids, vectors, this.dim);
    if (rows === 0) return;
    // Quantise into a tail after the last list's room; nothing is committed until all pass.
    const tail = this.end();
    this.reserve(tail + rows);
    quantizeBatch(w, this.rows(), vectors, rows, tail);
    for (let i = 0; i < rows; i++) {
      const old = this.slotOf.get(ids[i]!);
      if (old !== undefined) this.removeSlot(old);
      this.touched?.add(ids[i]!);
    }
    const newCount = this.count + rows;
    const lists = this.cents ? this.assignRows(tail, rows) : new Uint32Array(rows);
    // Place each tail row in its list's room; if any list is full, relayout once with slack.
    const need = new Uint32Array(this.start.length);
    for (let i = 0; i < rows; i++) need[lists[i]!]!++;
    let fits = true;
    for (let l = 0; l < need.length; l++) if (this.len[l]! + need[l]! > this.room[l]!) fits = false;
    if (fits && tail + rows <= this.cap) {
      const mem = new Uint8Array(w.memory.buffer);
      const at = this.rows();
      for (let i = 0; i < rows; i++) {
        const l = lists[i]!;
        const slot = this.start[l]! + this.len[l]!++;
        moveRow(mem, at, tail + i, slot);
        this.ids[slot] = ids[i]!;
        this.slotOf.set(ids[i]!, slot);
      }
      this.count = newCount;
    } else {
      const all = this.gather(tail, rows, ids, lists);
      this.layout(all.codes, all.scales, all.ids, all.lists);
    }
    this.maybeTrain();
  }

  remove(id: VectorId): boolean {
    this.live();
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    this.removeSlot(slot);
    this.gone?.add(id);
    return true;
  }

  search(query: ArrayLike<number>, k: number): SearchHit[] {
    const w = this.live();
    checkK(k);
    const q = normalizedQuery(query, this.dim);
    if (k === 0 || this.count === 0) return [];
    const got = this.scan(q, Math.min(k, this.count), this.probe);
    return heapHits(w, this.scratchOff, got, this.ids);
  }

  /**
   * Layout (little-endian): 24-byte header (kind 3, dim, count, extra = nlist), trainedAt u32, nprobe u32,
   * centroid scales f32[nlist], centroid codes i8[nlist × dim], list lengths u32[max(1, nlist)],
   * then ids u32[count], scales f32[count], codes i8[count × dim] in list order.
   */
  serialize(): Uint8Array {
    const w = this.live();
    const { dim, stride, count } = this;
    const nlist = this.lists;
    const L = this.start.length;
    const out = new Uint8Array(HEADER_BYTES + 8 + nlist * (4 + dim) + L * 4 + count * (8 + dim));
    writeHeader(out, 'ivf-i8', dim, count, nlist);
    const dv = new DataView(out.buffer);
    let o = HEADER_BYTES;
    dv.setUint32(o, this.trainedAt, true);
    dv.setUint32(o + 4, this.probe, true);
    o = this.cents ? this.cents.pack(out, o + 8) : o + 8;
    for (let l = 0; l < L; l++, o += 4) dv.setUint32(o, this.len[l]!, true);
    const idsAt = o;
    const scalesAt = idsAt + count * 4;
    const codesAt = scalesAt + count * 4;
    const mem = new Uint8Array(w.memory.buffer);
    let r = 0;
    for (let l = 0; l < L; l++) {
      const s = this.start[l]!;
      const n = this.len[l]!;
      out.set(new Uint8Array(this.ids.buffer, s * 4, n * 4), idsAt + r * 4);
      out.set(mem.subarray(this.scalesOff + s * 4, this.scalesOff + (s + n) * 4), scalesAt + r * 4);
      packCodes(mem, this.codesOff + s * stride, n, dim, stride, out, codesAt + r * dim);
      r += n;
    }
    return out;
  }

  /** Rebuilds from `serialize()` output without retraining; EINVAL on corrupt bytes. */
  static async load(bytes: Uint8Array, opts: IvfOptions = {}): Promise<IvfI8Index> {
    const { kind, dim, count } = readHeader(bytes);
    if (kind !== 'ivf-i8') throw new SysError('EINVAL', `serialized index is '${kind}', not 'ivf-i8'`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const nlist = dv.getUint32(16, true);
    if (nlist > MAX_NLIST)
      throw new SysError('EINVAL', `serialized ivf-i8 index has ${nlist} lists (max ${MAX_NLIST})`);
    const L = Math.max(1, nlist);
    const expected = HEADER_BYTES + 8 + nlist * (4 + dim) + L * 4 + count * (8 + dim);
    if (bytes.length !== expected)
      throw new SysError(
        'EINVAL',
        `serialized ivf-i8 index is ${bytes.length} bytes, header says ${expected}`,
      );
    const index = new IvfI8Index(dim, await instantiateKernel(), opts);
    let o = HEADER_BYTES;
    index.trainedAt = dv.getUint32(o, true);
    const probe = dv.getUint32(o + 4, true);
    o += 8;
    if (nlist > 0) {
      const cents = await Centroids.create(dim, nlist);
      cents.loadPacked(
        bytes.subarray(o, o + nlist * 4),
        bytes.subarray(o + nlist * 4, o + nlist * (4 + dim)),
      );
      index.cents = cents;
      index.start = new Uint32Array(nlist);
      index.len = new Uint32Array(nlist);
      index.room = new Uint32Array(nlist);
    }
    o += nlist * (4 + dim);
    const lists = new Uint32Array(count);
    let r = 0;
    for (let l = 0; l < L; l++, o += 4) {
      const n = dv.getUint32(o, true);
      if (r + n > count) throw new SysError('EINVAL', 'serialized ivf-i8 list lengths exceed its count');
      lists.fill(l, r, r + n);
      r += n;
    }
    if (r !== count)
      throw new SysError('EINVAL', 'serialized ivf-i8 list lengths do not add up to its count');
    const ids = new Uint32Array(count);
    new Uint8Array(ids.buffer).set(bytes.subarray(o, o + count * 4));
    const scales = new Float32Array(count);
    new Uint8Array(scales.buffer).set(bytes.subarray(o + count * 4, o + count * 8));
    checkScales(scales);
    const codes = bytes.subarray(o + count * 8, o + count * (8 + dim));
    index.layout(codes, scales, ids, lists, dim);
    index.probe = nlist ? Math.max(1, Math.min(nlist, opts.nprobe ?? probe)) : 1;
    return index;
  }

  override dispose(): void {
    super.dispose();
    this.cents = null;
    this.count = 0;
  }

  // ───────── internals ─────────

  protected used(): number {
    return this.end();
  }

  /** First slot after the last list's room. */
  private end(): number {
    if (!this.cents) return this.len[0]!;
    const L = this.start.length;
    return this.start[L - 1]! + this.room[L - 1]!;
  }

  /**
   * Scans the `probe` lists nearest the unit query (every row while untrained) into the top-k
   * heap in scratch; returns the heap's size. Heap rows are slots.
   */
  private scan(q: Float32Array, k: number, probe: number): number {
    const w = this.live();
    const { qOff, scratchOff: heapOff } = this;
    const qmul = loadQuery(w, qOff, q, this.stride);
    if (!this.cents)
      return w.searchTopK(qOff, this.codesOff, this.scalesOff, this.len[0]!, this.stride, qmul, k, heapOff);
    let got = 0;
    for (const l of this.cents.probe(q, probe)) {
      const s = this.start[l]!;
      const n = this.len[l]!;
      if (n > 0)
        got = w.searchMore(
          qOff,
          this.codesOff + s * this.stride,
          this.scalesOff + s * 4,
          n,
          this.stride,
          qmul,
          k,
          heapOff,
          got,
          s,
        );
    }
    return got;
  }

  /** Removal swaps its list's last row into the hole: each list stays dense. */
  private removeSlot(slot: number): void {
    const l = this.listOf(slot);
    const last = this.start[l]! + this.len[l]! - 1;
    const id = this.ids[slot]!;
    if (slot !== last) this.moveSlot(last, slot);
    this.len[l]!--;
    this.slotOf.delete(id);
    this.count--;
  }

  /** The list whose room holds `slot` (lists are laid out in order). */
  private listOf(slot: number): number {
    let lo = 0;
    let hi = this.start.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.start[mid]! <= slot) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Nearest centroid of each of `rows` stored rows from slot `first`. */
  private assignRows(first: number, rows: number): Uint32Array {
    const out = new Uint32Array(rows);
    for (let i = 0; i < rows; i++) out[i] = this.cents!.nearest(this.codeRow(first + i));
    return out;
  }

  /**
   * Copies every live row (lists, then the `rows` new ones in the tail from slot `tail`) out of
   * WASM memory, with the new rows' ids and, if given, their lists. Rows of the lists keep their list.
   */
  private gather(
    tail: number,
    rows: number,
    newIds: ArrayLike<VectorId>,
    newLists?: Uint32Array,
  ): { codes: Uint8Array; scales: Float32Array; ids: Uint32Array; lists: Uint32Array } {
    const w = this.live();
    const n = this.count + rows;
    const { stride } = this;
    const codes = new Uint8Array(n * stride);
    const scales = new Float32Array(n);
    const ids = new Uint32Array(n);
    const lists = new Uint32Array(n);
    const mem = new Uint8Array(w.memory.buffer);
    const memScales = new Float32Array(w.memory.buffer, this.scalesOff, this.cap);
    let r = 0;
    for (let l = 0; l < this.start.length; l++) {
      const s = this.start[l]!;
      const len = this.len[l]!;
      codes.set(mem.subarray(this.codesOff + s * stride, this.codesOff + (s + len) * stride), r * stride);
      scales.set(memScales.subarray(s, s + len), r);
      ids.set(this.ids.subarray(s, s + len), r);
      lists.fill(l, r, r + len);
      r += len;
    }
    codes.set(
      mem.subarray(this.codesOff + tail * stride, this.codesOff + (tail + rows) * stride),
      r * stride,
    );
    scales.set(memScales.subarray(tail, tail + rows), r);
    for (let i = 0; i < rows; i++) ids[r + i] = newIds[i]!;
    if (newLists) lists.set(newLists, r);
    return { codes, scales, ids, lists };
  }

  /**
   * Writes rows back grouped by list, each list with slack (1/16 + 4 rows: memory stays near the
   * codes' size) so small later adds rarely relayout. `rowBytes` is the row pitch of `codes`
   * (stride, or dim for serialized rows). The number of lists is the centroids' (1 untrained).
   */
  private layout(
    codes: Uint8Array,
    scales: Float32Array,
    ids: Uint32Array,
    lists: Uint32Array,
    rowBytes = this.stride,
  ): void {
    const L = this.cents?.n ?? 1;
    const n = ids.length;
    const counts = new Uint32Array(L);
    for (let i = 0; i < n; i++) counts[lists[i]!]!++;
    const start = new Uint32Array(L);
    const room = new Uint32Array(L);
    let at = 0;
    for (let l = 0; l < L; l++) {
      start[l] = at;
      room[l] = counts[l]! + (counts[l]! >> 4) + 4;
      at += room[l]!;
    }
    this.start = start;
    this.room = room;
    this.len = new Uint32Array(L);
    this.count = 0;
    this.reserve(at);
    if (!this.cents) this.room[0] = this.cap;
    const w = this.live();
    const mem = new Uint8Array(w.memory.buffer);
    const memScales = new Float32Array(w.memory.buffer, this.scalesOff, this.cap);
    this.slotOf.clear();
    const { stride, dim } = this;
    // Rows of one list that arrive together (serialized or already laid-out data) move as one block.
    for (let i = 0; i < n; ) {
      const l = lists[i]!;
      let e = i + 1;
      while (e < n && lists[e] === l) e++;
      const slot = start[l]! + this.len[l]!;
      this.len[l]! += e - i;
      if (rowBytes === stride) mem.set(codes.subarray(i * stride, e * stride), this.codesOff + slot * stride);
      else unpackCodes(codes.subarray(i * rowBytes), e - i, dim, stride, mem, this.codesOff + slot * stride);
      memScales.set(scales.subarray(i, e), slot);
      this.ids.set(ids.subarray(i, e), slot);
      for (let r = i; r < e; r++) {
        const id = ids[r]!;
        if (this.slotOf.has(id)) throw new SysError('EINVAL', `id ${id} appears twice`);
        this.slotOf.set(id, slot + r - i);
      }
      i = e;
    }
    this.count = n;
  }

  /** Starts a background training when the index reaches its training size or has grown 4× past the last. */
  private maybeTrain(): void {
    if (this.training || this.disposed || this.count < this.retryAt) return;
    if (this.cents ? this.count < 4 * this.trainedAt : this.count < this.trainAt) return;
    this.touched = new Set();
    this.gone = new Set();
    this.training = this.train()
      .catch(() => {
        // The layout before stays in use (it is complete and correct); try again at twice the size.
        this.retryAt = 2 * this.count;
      })
      .finally(() => {
        this.training = null;
        this.touched = null;
        this.gone = null;
        this.maybeTrain();
      });
  }

  /**
   * In time slices: spherical k-means on a sample of the rows; every row filed under its nearest
   * centroid and copied into a new layout built aside (an index of its own, in a kernel of its
   * own); nprobe tuned on that. Then one short step: the rows added, replaced or removed since
   * are applied to it, and this index takes it over. Until then everything here works on the
   * layout before, which stays complete and correct.
   */
  private async train(): Promise<void> {
    const slice = new TimeSlice();
    await slice.pass();
    const { dim, stride } = this;
    const rand = prng(this.seed);
    // Every live row's id, then a sample of them (partial Fisher–Yates) with their codes copied out.
    const snap = this.liveIds();
    const n = snap.length;
    const nlist = defaultNlist(n);
    const sampleN = Math.min(n, nlist * SAMPLE_PER_LIST);
    for (let i = 0; i < sampleN; i++) {
      const j = i + Math.floor(rand() * (n - i));
      const t = snap[i]!;
      snap[i] = snap[j]!;
      snap[j] = t;
    }
    const sample = new Int8Array(sampleN * stride);
    const sampleScales = new Float32Array(sampleN);
    for (let i = 0; i < sampleN; i++) {
      const slot = this.slotOf.get(snap[i]!)!;
      sample.set(this.codeRow(slot), i * stride);
      sampleScales[i] = this.scaleOf(slot);
    }
    const cents = await Centroids.create(dim, nlist);
    const cent = new Float32Array(nlist * dim);
    const fromSample = (c: number, r: number) => {
      for (let j = 0; j < dim; j++) cent[c * dim + j] = sample[r * stride + j]! * sampleScales[r]!;
    };
    for (let c = 0; c < nlist; c++) fromSample(c, c);
    let group = !this.coarseOff;
    const checks = Math.min(GROUPING_CHECKS, sampleN);
    const assign = new Uint32Array(sampleN);
    for (let it = 0; it <= KMEANS_ITERS; it++) {
      await cents.set(cent, group, slice);
      if (cents.grouped && !cents.checkGrouping(sample, checks)) group = false;
      if (it === KMEANS_ITERS) break;
      for (let i = 0; i < sampleN; i++) {
        assign[i] = cents.nearest(sample.subarray(i * stride, (i + 1) * stride));
        if ((i & 31) === 31) await slice.check();
      }
      cent.fill(0);
      const sizes = new Uint32Array(nlist);
      for (let i = 0; i < sampleN; i++) {
        const c = assign[i]!;
        sizes[c]!++;
        const s = sampleScales[i]!;
        for (let j = 0; j < dim; j++) cent[c * dim + j]! += sample[i * stride + j]! * s;
        if ((i & 255) === 255) await slice.check();
      }
      // An empty centroid restarts at a random sample row.
      for (let c = 0; c < nlist; c++) if (sizes[c] === 0) fromSample(c, Math.floor(rand() * sampleN));
    }
    // File every row by id, reading its codes where it is now (rows move and go between slices).
    const listOfId = new Map<VectorId, number>();
    const counts = new Uint32Array(nlist);
    for (let i = 0; i < n; i++) {
      const slot = this.slotOf.get(snap[i]!);
      if (slot !== undefined) {
        const l = cents.nearest(this.codeRow(slot));
        listOfId.set(snap[i]!, l);
        counts[l]!++;
      }
      if ((i & 63) === 63) await slice.check();
    }
    // The new layout, aside: each list's room, then the rows copied in.
    const next = new IvfI8Index(dim, await instantiateKernel(), {
      trainAt: this.trainAt,
      seed: this.seed,
      ...(this.fixedProbe === undefined ? {} : { nprobe: this.fixedProbe }),
    });
    next.cents = cents;
    next.coarseOff = !group;
    next.rooms(counts);
    let copied = 0;
    for (const [id, l] of listOfId) {
      const slot = this.slotOf.get(id);
      if (slot !== undefined) next.place(id, l, this.codeRow(slot), this.scaleOf(slot));
      if ((++copied & 255) === 0) await slice.check();
    }
    next.probe =
      this.fixedProbe === undefined ? await next.tuneProbe(rand, slice) : Math.min(nlist, this.fixedProbe);
    // The one step: what changed since, applied to the new layout, which then becomes this one's.
    this.live();
    for (const id of [...this.gone!, ...this.touched!])
      if (next.has(id)) next.removeSlot(next.slotOf.get(id)!);
    for (const id of this.touched!) {
      const slot = this.slotOf.get(id);
      if (slot === undefined) continue;
      const row = this.codeRow(slot);
      if (!next.place(id, cents.nearest(row), row, this.scaleOf(slot))) {
        // Its list is full: lay the new index out again with slack (rare: lists have 1/16 spare).
        const all = next.gather(next.end(), 0, []);
        next.layout(all.codes, all.scales, all.ids, all.lists);
        next.place(id, cents.nearest(row), row, this.scaleOf(slot));
      }
    }
    this.adopt(next);
    this.cents = cents;
    this.coarseOff = next.coarseOff;
    this.start = next.start;
    this.len = next.len;
    this.room = next.room;
    this.count = next.count;
    this.probe = next.probe;
    this.trainedAt = this.count;
  }

  /** Empty lists with room for `counts` rows each, plus slack (see layout). */
  private rooms(counts: Uint32Array): void {
    const L = counts.length;
    this.start = new Uint32Array(L);
    this.room = new Uint32Array(L);
    this.len = new Uint32Array(L);
    let at = 0;
    for (let l = 0; l < L; l++) {
      this.start[l] = at;
      this.room[l] = counts[l]! + (counts[l]! >> 4) + 4;
      at += this.room[l]!;
    }
    this.count = 0;
    this.reserve(at);
  }

  /** Puts a row (its int8 codes, `stride` bytes, and scale) at the end of list `l`; false if the list is full. */
  private place(id: VectorId, l: number, codes: Int8Array, scale: number): boolean {
    if (this.len[l]! >= this.room[l]!) return false;
    const slot = this.start[l]! + this.len[l]!++;
    const w = this.live();
    new Int8Array(w.memory.buffer, this.codesOff + slot * this.stride, this.stride).set(codes);
    new Float32Array(w.memory.buffer, this.scalesOff, this.cap)[slot] = scale;
    this.ids[slot] = id;
    this.slotOf.set(id, slot);
    this.count++;
    return true;
  }

  private scaleOf(slot: number): number {
    return new Float32Array(this.live().memory.buffer, this.scalesOff, this.cap)[slot]!;
  }

  /** Ids of every live row, in slot order. */
  private liveIds(): Uint32Array {
    const out = new Uint32Array(this.count);
    let r = 0;
    for (let l = 0; l < this.start.length; l++) {
      out.set(this.ids.subarray(this.start[l]!, this.start[l]! + this.len[l]!), r);
      r += this.len[l]!;
    }
    return out;
  }

  /**
   * The fewest lists per query that find ≥ TUNE_TARGET of the exact int8 top-10, on stored rows
   * used as queries (each row's own hit left out, so it stands for an unseen query near the
   * data): low-dimensional data (like text embeddings) needs several times more probes than
   * well-separated clusters, and a fixed default would be wrong for one. Run on a layout built
   * aside (nothing else touches it), so a scan may span slices: one list at a time.
   */
  private async tuneProbe(rand: () => number, slice: TimeSlice): Promise<number> {
    const cents = this.cents!;
    const nlist = cents.n;
    const T = Math.min(TUNE_QUERIES, this.count);
    const queries: Float32Array[] = [];
    const self: number[] = [];
    for (let t = 0; t < T; t++) {
      // A random live row: pick a list weighted by size, then a row in it.
      let r = Math.floor(rand() * this.count);
      let l = 0;
      while (r >= this.len[l]!) r -= this.len[l++]!;
      const slot = this.start[l]! + r;
      queries.push(normalizedQuery(this.codeRow(slot).subarray(0, this.dim), this.dim));
      self.push(this.ids[slot]!);
    }
    const top = async (i: number, probe: number): Promise<Set<VectorId>> => {
      const w = this.live();
      const q = queries[i]!;
      const qmul = loadQuery(w, this.qOff, q, this.stride);
      let got = 0;
      for (const l of cents.probe(q, probe)) {
        const s = this.start[l]!;
        const n = this.len[l]!;
        if (n > 0)
          got = w.searchMore(
            this.qOff,
            this.codesOff + s * this.stride,
            this.scalesOff + s * 4,
            n,
            this.stride,
            qmul,
            Math.min(11, this.count),
            this.scratchOff,
            got,
            s,
          );
        await slice.check();
      }
      const ids = heapHits(w, this.scratchOff, got, this.ids)
        .map((h) => h.id)
        .filter((id) => id !== self[i]);
      return new Set(ids.slice(0, 10));
    };
    const truth: Set<VectorId>[] = [];
    for (let i = 0; i < T; i++) truth.push(await top(i, nlist));
    let p = Math.min(nlist, 4);
    for (;;) {
      let found = 0;
      let total = 0;
      for (let i = 0; i < T; i++) {
        total += truth[i]!.size;
        for (const id of await top(i, p)) if (truth[i]!.has(id)) found++;
      }
      if (found >= TUNE_TARGET * total || p >= nlist) return p;
      p = Math.min(nlist, Math.ceil(p * 1.25));
    }
  }

  /** As Int8Rows.reserve; while untrained, the one list's room is all of it. */
  protected override reserve(need: number): void {
    super.reserve(need);
    if (!this.cents) this.room[0] = this.cap;
  }
}
