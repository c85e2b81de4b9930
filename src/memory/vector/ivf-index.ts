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
 * Scores are the int8 estimates, as in the flat index; recall is against exact float search.
 *
 * WASM memory (byte offsets, 16-aligned):
 *   [query int16 × stride][scratch: staging floats | top-k heap, centroid heap]
 *   [centroid scales f32 × MAX_NLIST][centroid codes × MAX_NLIST × stride][scales f32 × cap][codes × cap × stride]
 */
import { SysError } from '../../abi/errors';
import { instantiateKernel, type KernelExports } from './flat-index';
import { prng } from './synthetic';
import {
  batchRow,
  byScore,
  checkBatch,
  checkDim,
  checkK,
  HEADER_BYTES,
  MAX_K,
  normalizedQuery,
  readHeader,
  type SearchHit,
  type VectorBatch,
  type VectorId,
  type VectorIndex,
  writeHeader,
} from './vector-index';

export interface IvfOptions {
  /** Size at which the index trains centroids and stops scanning everything (default 20,000). */
  trainAt?: number;
  /** Lists probed per query; by default tuned at training time to a recall target (see `tuneProbe`). */
  nprobe?: number;
  /** Seed of the k-means sample and initial centroids (builds are deterministic). */
  seed?: number;
}

/** Most centroids an index trains (bounds their fixed WASM region: 16k × 384 B ≈ 6 MB). */
export const MAX_NLIST = 16_384;
const PAGE = 65536;
const STAGE_ROWS = 256;
const KMEANS_ITERS = 5;
/** Sample rows per centroid for k-means. */
const SAMPLE_PER_LIST = 24;
/** Stored rows used as queries when tuning nprobe, and the share of the exact int8 top-10 they must find. */
const TUNE_QUERIES = 48;
const TUNE_TARGET = 0.98;
/** Centroid counts above this are grouped for filing rows (below it a full scan is as cheap). */
const COARSE_MIN = 256;
/** Coarse groups searched when filing a row. */
const COARSE_PROBE = 3;
const align16 = (x: number) => (x + 15) & ~15;

/** Centroids for `n` rows: ~2·√n balances the centroid scan against the list scans. */
export function defaultNlist(n: number): number {
  return Math.max(16, Math.min(MAX_NLIST, Math.round(2 * Math.sqrt(n))));
}

export class IvfI8Index implements VectorIndex {
  readonly kind = 'ivf-i8' as const;
  private readonly stride: number;
  private readonly qOff: number;
  private readonly scratchOff: number;
  private readonly heapOff: number;
  private readonly cheapOff: number;
  private readonly centScalesOff: number;
  private centCodesOff: number;
  private scalesOff: number;
  private codesOff: number;
  private cap = 0;
  /** 0 = untrained: one list holding every row, scanned in full (the flat mode). */
  private nlist = 0;
  private probe: number;
  /** Per list: first slot, live rows, room (slots). Lists sit in order, each [start, start+cap). */
  private start = new Uint32Array(1);
  private len = new Uint32Array(1);
  private room = new Uint32Array(1);
  private ids = new Uint32Array(0);
  private readonly slotOf = new Map<VectorId, number>();
  private count = 0;
  /** Size at the last training; retrain once the index has grown 4× past it. */
  private trainedAt = 0;
  /**
   * While training: centroids grouped under √nlist coarse centres (stored after the nlist
   * centroid rows), so filing a row scores √nlist + COARSE_PROBE·√nlist centroids instead of
   * all nlist — ~9× less at 1,265 lists. 0 when not grouped (queries always scan every centroid).
   */
  private coarseN = 0;
  /** Set when grouping misfiled rows in a check (well-separated clusters defeat it): file exactly. */
  private coarseOff = false;
  private coarseStart = new Uint32Array(1);
  private readonly trainAt: number;
  private readonly fixedProbe: number | undefined;
  private readonly seed: number;
  private wasm: KernelExports | undefined;

  private constructor(
    readonly dim: number,
    wasm: KernelExports,
    opts: IvfOptions,
  ) {
    this.wasm = wasm;
    this.trainAt = opts.trainAt ?? 20_000;
    if (!Number.isInteger(this.trainAt) || this.trainAt < 64)
      throw new SysError('EINVAL', `trainAt must be an integer ≥ 64, got ${opts.trainAt}`);
    if (opts.nprobe !== undefined && (!Number.isInteger(opts.nprobe) || opts.nprobe < 1))
      throw new SysError('EINVAL', `nprobe must be a positive integer, got ${opts.nprobe}`);
    this.fixedProbe = opts.nprobe;
    this.probe = 1;
    this.seed = opts.seed ?? 1;
    this.stride = (dim + 31) & ~31;
    this.qOff = align16(wasm.heapBase());
    this.scratchOff = align16(this.qOff + this.stride * 2);
    this.heapOff = this.scratchOff;
    this.cheapOff = align16(this.heapOff + MAX_K * 8);
    const scratchBytes = Math.max(STAGE_ROWS * dim * 4, MAX_K * 8 + MAX_NLIST * 8 + 16);
    this.centScalesOff = align16(this.scratchOff + scratchBytes);
    // Centroid codes are sized when the index trains (none while it is flat): see setCentroidRoom.
    this.centCodesOff = align16(this.centScalesOff + MAX_NLIST * 4);
    this.scalesOff = this.centCodesOff;
    this.codesOff = this.scalesOff;
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
    return this.nlist;
  }

  /** Lists a query scans; settable to trade speed for recall. */
  get nprobe(): number {
    return this.probe;
  }
  set nprobe(p: number) {
    if (!Number.isInteger(p) || p < 1)
      throw new SysError('EINVAL', `nprobe must be a positive integer, got ${p}`);
    this.probe = this.nlist ? Math.min(p, this.nlist) : 1;
  }

  has(id: VectorId): boolean {
    return this.slotOf.has(id);
  }

  /** Bytes of WASM memory held (the codes dominate). */
  get memoryBytes(): number {
    return this.wasm?.memory.buffer.byteLength ?? 0;
  }

  add(ids: ArrayLike<VectorId>, vectors: VectorBatch): void {
    const w = this.live();
    const rows = checkBatch(ids, vectors, this.dim);
    if (rows === 0) return;
    // Quantise into a tail after the last list's room; nothing is committed until all pass.
    const tail = this.end();
    this.reserve(tail + rows);
    const row = new Float32Array(this.dim);
    for (let s = 0; s < rows; s += STAGE_ROWS) {
      const r = Math.min(STAGE_ROWS, rows - s);
      const stage = new Float32Array(w.memory.buffer, this.scratchOff, r * this.dim);
      if (vectors instanceof Float32Array) stage.set(vectors.subarray(s * this.dim, (s + r) * this.dim));
      else
        for (let i = 0; i < r; i++) {
          batchRow(vectors, s + i, this.dim, row);
          stage.set(row, i * this.dim);
        }
      const bad = w.quantize(
        this.scratchOff,
        r,
        this.dim,
        this.codesOff + (tail + s) * this.stride,
        this.stride,
        this.scalesOff + (tail + s) * 4,
      );
      if (bad >= 0)
        throw new SysError('EINVAL', `vector ${s + bad} is the zero vector or contains NaN/Infinity`);
    }
    for (let i = 0; i < rows; i++) {
      const old = this.slotOf.get(ids[i]!);
      if (old !== undefined) this.removeSlot(old);
    }
    const newCount = this.count + rows;
    if (this.nlist === 0 ? newCount >= this.trainAt : newCount >= 4 * this.trainedAt) {
      // Train on everything (lists + tail), then lay it all out afresh.
      const all = this.gatherTail(tail, rows, ids);
      this.train(all.codes, all.scales, all.ids);
      return;
    }
    const lists = this.nlist ? this.assignRows(tail, rows) : new Uint32Array(rows);
    // Place each tail row in its list's room; if any list is full, relayout once with slack.
    const need = new Uint32Array(Math.max(1, this.nlist));
    for (let i = 0; i < rows; i++) need[lists[i]!]!++;
    let fits = true;
    for (let l = 0; l < need.length; l++) if (this.len[l]! + need[l]! > this.room[l]!) fits = false;
    if (fits && tail + rows <= this.cap) {
      const mem = new Uint8Array(w.memory.buffer);
      for (let i = 0; i < rows; i++) {
        const l = lists[i]!;
        const slot = this.start[l]! + this.len[l]!++;
        this.moveRow(mem, tail + i, slot);
        this.ids[slot] = ids[i]!;
        this.slotOf.set(ids[i]!, slot);
      }
      this.count = newCount;
      return;
    }
    const all = this.gatherTail(tail, rows, ids, lists);
    this.layout(all.codes, all.scales, all.ids, all.lists);
  }

  remove(id: VectorId): boolean {
    this.live();
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    this.removeSlot(slot);
    return true;
  }

  search(query: ArrayLike<number>, k: number): SearchHit[] {
    const w = this.live();
    checkK(k);
    const q = normalizedQuery(query, this.dim);
    if (k === 0 || this.count === 0) return [];
    const kk = Math.min(k, this.count);
    let maxabs = 0;
    for (let j = 0; j < this.dim; j++) maxabs = Math.max(maxabs, Math.abs(q[j]!));
    const qmax = Math.min(32767, Math.floor(0x7fff_ffff / (this.stride * 127)));
    const qscale = qmax / maxabs;
    const q16 = new Int16Array(w.memory.buffer, this.qOff, this.stride);
    for (let j = 0; j < this.dim; j++) q16[j] = Math.round(q[j]! * qscale);
    q16.fill(0, this.dim);
    let got = 0;
    if (this.nlist === 0) {
      got = w.searchTopK(
        this.qOff,
        this.codesOff,
        this.scalesOff,
        this.len[0]!,
        this.stride,
        1 / qscale,
        kk,
        this.heapOff,
      );
    } else {
      const probes = w.searchTopK(
        this.qOff,
        this.centCodesOff,
        this.centScalesOff,
        this.nlist,
        this.stride,
        1,
        this.probe,
        this.cheapOff,
      );
      const ph = new Int32Array(w.memory.buffer, this.cheapOff, probes * 2);
      const chosen = new Uint32Array(probes);
      for (let i = 0; i < probes; i++) chosen[i] = ph[2 * i + 1]!;
      for (let i = 0; i < probes; i++) {
        const l = chosen[i]!;
        const s = this.start[l]!;
        const n = this.len[l]!;
        if (n === 0) continue;
        got = w.searchMore(
          this.qOff,
          this.codesOff + s * this.stride,
          this.scalesOff + s * 4,
          n,
          this.stride,
          1 / qscale,
          kk,
          this.heapOff,
          got,
          s,
        );
      }
    }
    const heapF = new Float32Array(w.memory.buffer, this.heapOff, got * 2);
    const heapI = new Int32Array(w.memory.buffer, this.heapOff, got * 2);
    const hits: SearchHit[] = new Array(got);
    for (let i = 0; i < got; i++) hits[i] = { id: this.ids[heapI[2 * i + 1]!]!, score: heapF[2 * i]! };
    return hits.sort(byScore);
  }

  /**
   * Layout (little-endian): 24-byte header (kind 3, dim, count, extra = nlist), trainedAt u32, nprobe u32,
   * centroid scales f32[nlist], centroid codes i8[nlist × dim], list lengths u32[max(1, nlist)],
   * then ids u32[count], scales f32[count], codes i8[count × dim] in list order.
   */
  serialize(): Uint8Array {
    const w = this.live();
    const { dim, stride, count } = this;
    const L = Math.max(1, this.nlist);
    const out = new Uint8Array(HEADER_BYTES + 8 + this.nlist * (4 + dim) + L * 4 + count * (8 + dim));
    writeHeader(out, 'ivf-i8', dim, count, this.nlist);
    const dv = new DataView(out.buffer);
    let o = HEADER_BYTES;
    dv.setUint32(o, this.trainedAt, true);
    dv.setUint32(o + 4, this.probe, true);
    o += 8;
    const mem = new Uint8Array(w.memory.buffer);
    out.set(mem.subarray(this.centScalesOff, this.centScalesOff + this.nlist * 4), o);
    o += this.nlist * 4;
    for (let c = 0; c < this.nlist; c++, o += dim)
      out.set(mem.subarray(this.centCodesOff + c * stride, this.centCodesOff + c * stride + dim), o);
    for (let l = 0; l < L; l++, o += 4) dv.setUint32(o, this.len[l]!, true);
    const idsAt = o;
    const scalesAt = idsAt + count * 4;
    const codesAt = scalesAt + count * 4;
    let r = 0;
    for (let l = 0; l < L; l++) {
      const s = this.start[l]!;
      const n = this.len[l]!;
      out.set(new Uint8Array(this.ids.buffer, s * 4, n * 4), idsAt + r * 4);
      out.set(mem.subarray(this.scalesOff + s * 4, this.scalesOff + (s + n) * 4), scalesAt + r * 4);
      if (stride === dim)
        out.set(mem.subarray(this.codesOff + s * dim, this.codesOff + (s + n) * dim), codesAt + r * dim);
      else
        for (let i = 0; i < n; i++) {
          const from = this.codesOff + (s + i) * stride;
          out.set(mem.subarray(from, from + dim), codesAt + (r + i) * dim);
        }
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
    const w = index.live();
    let o = HEADER_BYTES;
    index.trainedAt = dv.getUint32(o, true);
    const probe = dv.getUint32(o + 4, true);
    o += 8;
    index.setCentroidRoom(nlist);
    index.reserve(64);
    const mem = () => new Uint8Array(w.memory.buffer);
    mem().set(bytes.subarray(o, o + nlist * 4), index.centScalesOff);
    o += nlist * 4;
    for (let c = 0; c < nlist; c++, o += dim)
      mem().set(bytes.subarray(o, o + dim), index.centCodesOff + c * index.stride);
    index.nlist = nlist;
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
    for (let i = 0; i < count; i++)
      if (!(scales[i]! > 0 && scales[i]! < Number.POSITIVE_INFINITY))
        throw new SysError('EINVAL', `serialized index has a bad scale at row ${i}`);
    const codes = bytes.subarray(o + count * 8, o + count * (8 + dim));
    index.layout(codes, scales, ids, lists, dim);
    index.probe = nlist ? Math.max(1, Math.min(nlist, opts.nprobe ?? probe)) : 1;
    return index;
  }

  dispose(): void {
    this.wasm = undefined;
    this.slotOf.clear();
    this.ids = new Uint32Array(0);
    this.count = 0;
  }

  // ───────── internals ─────────

  private live(): KernelExports {
    if (!this.wasm) throw new SysError('EINVAL', 'vector index has been disposed');
    return this.wasm;
  }

  /** First slot after the last list's room. */
  private end(): number {
    if (this.nlist === 0) return this.len[0]!;
    const L = this.nlist;
    return this.start[L - 1]! + this.room[L - 1]!;
  }

  private setProbe(): void {
    this.probe = this.nlist ? Math.min(this.nlist, this.fixedProbe ?? this.probe) : 1;
  }

  private moveRow(mem: Uint8Array, from: number, to: number): void {
    const f = this.codesOff + from * this.stride;
    mem.copyWithin(this.codesOff + to * this.stride, f, f + this.stride);
    mem.copyWithin(this.scalesOff + to * 4, this.scalesOff + from * 4, this.scalesOff + from * 4 + 4);
  }

  private removeSlot(slot: number): void {
    const w = this.live();
    const l = this.listOf(slot);
    const last = this.start[l]! + this.len[l]! - 1;
    const id = this.ids[slot]!;
    if (slot !== last) {
      this.moveRow(new Uint8Array(w.memory.buffer), last, slot);
      const moved = this.ids[last]!;
      this.ids[slot] = moved;
      this.slotOf.set(moved, slot);
    }
    this.len[l]!--;
    this.slotOf.delete(id);
    this.count--;
  }

  /** The list whose room holds `slot` (lists are laid out in order). */
  private listOf(slot: number): number {
    let lo = 0;
    let hi = Math.max(1, this.nlist) - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.start[mid]! <= slot) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Nearest centroid of each of `rows` stored rows from `first` (their int8 codes as the query). */
  private assignRows(first: number, rows: number): Uint32Array {
    const w = this.live();
    const out = new Uint32Array(rows);
    const q16 = new Int16Array(w.memory.buffer, this.qOff, this.stride);
    for (let i = 0; i < rows; i++) {
      const codes = new Int8Array(w.memory.buffer, this.codesOff + (first + i) * this.stride, this.stride);
      q16.set(codes);
      out[i] = this.nearestOfQuery();
    }
    return out;
  }

  /**
   * Copies every live row (lists, then the `rows` new ones in the tail) out of WASM memory,
   * with the new rows' ids and, if given, their lists. Rows of the lists keep their list.
   */
  private gatherTail(
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
    for (let l = 0; l < Math.max(1, this.nlist); l++) {
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
   * codes' size) so small later adds rarely relayout. `rowBytes` is the row pitch of `codes` (stride, or dim for serialized rows).
   */
  private layout(
    codes: Uint8Array,
    scales: Float32Array,
    ids: Uint32Array,
    lists: Uint32Array,
    rowBytes = this.stride,
  ): void {
    const L = Math.max(1, this.nlist);
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
    this.reserve(at);
    if (this.nlist === 0) this.room[0] = this.cap;
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
      else
        for (let r = i; r < e; r++) {
          const dst = this.codesOff + (slot + r - i) * stride;
          mem.set(codes.subarray(r * rowBytes, r * rowBytes + dim), dst);
          mem.fill(0, dst + dim, dst + stride);
        }
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

  /** Spherical k-means on a sample of the rows, then every row filed under its nearest centroid. */
  private train(codes: Uint8Array, scales: Float32Array, ids: Uint32Array): void {
    const w = this.live();
    const n = ids.length;
    const { dim, stride } = this;
    const nlist = defaultNlist(n);
    const rand = prng(this.seed);
    const sampleN = Math.min(n, nlist * SAMPLE_PER_LIST);
    // Sample without replacement (partial Fisher–Yates over row numbers).
    const order = Uint32Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < sampleN; i++) {
      const j = i + Math.floor(rand() * (n - i));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    const sample = order.subarray(0, sampleN);
    const signed = new Int8Array(codes.buffer, codes.byteOffset, codes.length);
    const cent = new Float32Array(nlist * dim);
    for (let c = 0; c < nlist; c++) {
      const r = sample[c]!;
      for (let j = 0; j < dim; j++) cent[c * dim + j] = signed[r * stride + j]! * scales[r]!;
    }
    this.nlist = nlist;
    this.setCentroidRoom(nlist + Math.ceil(Math.sqrt(nlist)));
    this.coarseOff = false;
    const assign = new Uint32Array(sampleN);
    for (let it = 0; it < KMEANS_ITERS; it++) {
      this.loadCentroids(cent);
      if (this.coarseN > 0) {
        // Grouped filing must agree with the exact nearest centroid on ≥ 98% of a sample.
        let agree = 0;
        const checks = Math.min(200, sampleN);
        for (let i = 0; i < checks; i++) {
          const r = sample[i]!;
          const viaGroups = this.nearest(signed, r);
          const S = this.coarseN;
          this.coarseN = 0;
          if (this.nearest(signed, r) === viaGroups) agree++;
          this.coarseN = S;
        }
        if (agree < 0.98 * checks) {
          this.coarseOff = true;
          this.coarseN = 0;
        }
      }
      for (let i = 0; i < sampleN; i++) assign[i] = this.nearest(signed, sample[i]!);
      cent.fill(0);
      const sizes = new Uint32Array(nlist);
      for (let i = 0; i < sampleN; i++) {
        const c = assign[i]!;
        const r = sample[i]!;
        sizes[c]!++;
        const s = scales[r]!;
        for (let j = 0; j < dim; j++) cent[c * dim + j]! += signed[r * stride + j]! * s;
      }
      // An empty centroid restarts at a random sample row.
      for (let c = 0; c < nlist; c++)
        if (sizes[c] === 0) {
          const r = sample[Math.floor(rand() * sampleN)]!;
          for (let j = 0; j < dim; j++) cent[c * dim + j] = signed[r * stride + j]! * scales[r]!;
        }
    }
    this.loadCentroids(cent);
    if (this.coarseN > 0) {
      let agree = 0;
      const checks = Math.min(200, sampleN);
      for (let i = 0; i < checks; i++) {
        const r = sample[i]!;
        const viaGroups = this.nearest(signed, r);
        const S = this.coarseN;
        this.coarseN = 0;
        if (this.nearest(signed, r) === viaGroups) agree++;
        this.coarseN = S;
      }
      if (agree < 0.98 * checks) this.coarseN = 0;
    }
    const lists = new Uint32Array(n);
    for (let i = 0; i < n; i++) lists[i] = this.nearest(signed, i);
    this.trainedAt = n;
    this.layout(codes, scales, ids, lists);
    this.tuneProbe(rand);
    void w;
  }

  /**
   * Picks the fewest lists per query that find ≥ TUNE_TARGET of the exact int8 top-10, on
   * stored rows used as queries (each row's own hit left out, so it stands for an unseen
   * query near the data): low-dimensional data (like text embeddings) needs several times
   * more probes than well-separated clusters, and a fixed default would be wrong for one.
   */
  private tuneProbe(rand: () => number): void {
    if (this.fixedProbe !== undefined) {
      this.setProbe();
      return;
    }
    const w = this.live();
    const T = Math.min(TUNE_QUERIES, this.count);
    const queries: Float32Array[] = [];
    const self: number[] = [];
    for (let t = 0; t < T; t++) {
      // A random live row: pick a list weighted by size, then a row in it.
      let r = Math.floor(rand() * this.count);
      let l = 0;
      while (r >= this.len[l]!) r -= this.len[l++]!;
      const slot = this.start[l]! + r;
      const codes = new Int8Array(w.memory.buffer, this.codesOff + slot * this.stride, this.dim);
      queries.push(Float32Array.from(codes));
      self.push(this.ids[slot]!);
    }
    const top = (q: Float32Array, i: number) =>
      this.search(q, 11)
        .map((h) => h.id)
        .filter((id) => id !== self[i])
        .slice(0, 10);
    this.probe = this.nlist;
    const truth = queries.map(top);
    let p = Math.min(this.nlist, 4);
    for (;;) {
      this.probe = p;
      let found = 0;
      let total = 0;
      for (let i = 0; i < T; i++) {
        const t = new Set(truth[i]);
        total += t.size;
        for (const id of top(queries[i]!, i)) if (t.has(id)) found++;
      }
      if (found >= TUNE_TARGET * total || p >= this.nlist) break;
      p = Math.min(this.nlist, Math.ceil(p * 1.25));
    }
    this.probe = p;
  }

  /**
   * Quantises float centroids into their WASM region (the kernel normalises them). With many
   * centroids, first groups them under coarse centres (a small k-means, in place: `cent` is
   * reordered so each group's centroids are contiguous) for `nearestOfQuery`.
   */
  private loadCentroids(cent: Float32Array): void {
    const { dim, nlist } = this;
    const S = Math.ceil(Math.sqrt(nlist));
    this.coarseN = 0;
    if (!this.coarseOff && nlist > COARSE_MIN && nlist + S <= MAX_NLIST) {
      const coarse = new Float32Array(S * dim);
      for (let g = 0; g < S; g++)
        coarse.set(
          cent.subarray(Math.floor((g * nlist) / S) * dim, (Math.floor((g * nlist) / S) + 1) * dim),
          g * dim,
        );
      const group = new Uint32Array(nlist);
      for (let it = 0; it < 4; it++) {
        for (let c = 0; c < nlist; c++) {
          let best = -Infinity;
          for (let g = 0; g < S; g++) {
            let d = 0;
            for (let j = 0; j < dim; j++) d += cent[c * dim + j]! * coarse[g * dim + j]!;
            if (d > best) {
              best = d;
              group[c] = g;
            }
          }
        }
        const keep = coarse.slice();
        coarse.fill(0);
        const sizes = new Uint32Array(S);
        for (let c = 0; c < nlist; c++) {
          const g = group[c]!;
          sizes[g]!++;
          for (let j = 0; j < dim; j++) coarse[g * dim + j]! += cent[c * dim + j]!;
        }
        for (let g = 0; g < S; g++) {
          if (sizes[g] === 0) coarse.set(keep.subarray(g * dim, (g + 1) * dim), g * dim);
          let ss = 0;
          for (let j = 0; j < dim; j++) ss += coarse[g * dim + j]! ** 2;
          const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
          for (let j = 0; j < dim; j++) coarse[g * dim + j]! *= inv;
        }
      }
      // Reorder centroids by group (a counting sort), in place.
      const start = new Uint32Array(S + 1);
      for (let c = 0; c < nlist; c++) start[group[c]! + 1]!++;
      for (let g = 0; g < S; g++) start[g + 1]! += start[g]!;
      const fill = start.slice(0, S);
      const sorted = new Float32Array(nlist * dim);
      for (let c = 0; c < nlist; c++)
        sorted.set(cent.subarray(c * dim, (c + 1) * dim), fill[group[c]!]!++ * dim);
      cent.set(sorted);
      for (let g = 0; g < S; g++) if (start[g] === start[g + 1]) coarse.set(cent.subarray(0, dim), g * dim); // never chosen usefully, never empty-scanned
      this.quantizeRows(coarse, S, nlist);
      this.coarseStart = start;
      this.coarseN = S;
    }
    this.quantizeRows(cent, nlist, 0);
  }

  /** Quantises `rows` float rows into the centroid region from row `at`. */
  private quantizeRows(src: Float32Array, rows: number, at: number): void {
    const w = this.live();
    const { dim, stride } = this;
    for (let s = 0; s < rows; s += STAGE_ROWS) {
      const r = Math.min(STAGE_ROWS, rows - s);
      const stage = new Float32Array(w.memory.buffer, this.scratchOff, r * dim);
      stage.set(src.subarray(s * dim, (s + r) * dim));
      // A centroid of exactly opposite rows sums to ~0: give it a tiny direction instead of failing.
      for (let i = 0; i < r; i++) {
        let ss = 0;
        for (let j = 0; j < dim; j++) ss += stage[i * dim + j]! ** 2;
        if (!(ss > 1e-20)) stage[i * dim + ((s + i) % dim)] = 1;
      }
      w.quantize(
        this.scratchOff,
        r,
        dim,
        this.centCodesOff + (at + s) * stride,
        stride,
        this.centScalesOff + (at + s) * 4,
      );
    }
  }

  /** Nearest centroid of the int16 query already at qOff (through the coarse groups if any). */
  private nearestOfQuery(): number {
    const w = this.live();
    const { stride } = this;
    if (this.coarseN === 0) {
      w.searchTopK(this.qOff, this.centCodesOff, this.centScalesOff, this.nlist, stride, 1, 1, this.cheapOff);
      return new Int32Array(w.memory.buffer, this.cheapOff, 2)[1]!;
    }
    const P = Math.min(COARSE_PROBE, this.coarseN);
    const got = w.searchTopK(
      this.qOff,
      this.centCodesOff + this.nlist * stride,
      this.centScalesOff + this.nlist * 4,
      this.coarseN,
      stride,
      1,
      P,
      this.cheapOff,
    );
    const groups = Array.from(
      new Int32Array(w.memory.buffer, this.cheapOff, got * 2).filter((_, i) => i % 2 === 1),
    );
    const heap = this.cheapOff + 64;
    let size = 0;
    for (const g of groups) {
      const a = this.coarseStart[g]!;
      const n = this.coarseStart[g + 1]! - a;
      if (n > 0)
        size = w.searchMore(
          this.qOff,
          this.centCodesOff + a * stride,
          this.centScalesOff + a * 4,
          n,
          stride,
          1,
          1,
          heap,
          size,
          a,
        );
    }
    return new Int32Array(w.memory.buffer, heap, 2)[1]!;
  }

  /** Nearest centroid of row `r` of an outside code buffer (codes as the int16 query). */
  private nearest(codes: Int8Array, r: number): number {
    const w = this.live();
    new Int16Array(w.memory.buffer, this.qOff, this.stride).set(
      codes.subarray(r * this.stride, (r + 1) * this.stride),
    );
    return this.nearestOfQuery();
  }

  /**
   * Makes room for `rows` centroid codes and moves the row regions after them. Only between a
   * gather and a layout: the rows' contents are then in a JS copy, so nothing here is kept.
   */
  private setCentroidRoom(rows: number): void {
    this.scalesOff = align16(this.centCodesOff + rows * this.stride);
    this.codesOff = this.scalesOff;
    this.cap = 0;
    this.ids = new Uint32Array(0);
    this.start = new Uint32Array(1);
    this.len = new Uint32Array(1);
    this.room = new Uint32Array(1);
  }

  /**
   * Ensures room for `need` slots; grows by 1.125× (WASM memory never shrinks, so a smaller step
   * keeps what an index holds near its size; still geometric, so appends stay amortised O(1)).
   */
  private reserve(need: number): void {
    if (need <= this.cap) return;
    const w = this.live();
    const cap = Math.max(need, Math.ceil(this.cap * 1.125));
    const codesOff = align16(this.scalesOff + cap * 4);
    const end = codesOff + cap * this.stride;
    const pages = Math.ceil(end / PAGE) - w.memory.buffer.byteLength / PAGE;
    if (pages > 0) {
      try {
        w.memory.grow(pages);
      } catch {
        throw new SysError('ENOSPC', `vector index cannot grow to ${cap} rows (${end} bytes of WASM memory)`);
      }
    }
    const used = this.end();
    if (codesOff !== this.codesOff && used > 0) {
      const mem = new Uint8Array(w.memory.buffer);
      mem.copyWithin(codesOff, this.codesOff, this.codesOff + used * this.stride);
    }
    this.codesOff = codesOff;
    const ids = new Uint32Array(cap);
    ids.set(this.ids.subarray(0, Math.min(used, this.ids.length)));
    this.ids = ids;
    this.cap = cap;
    if (this.nlist === 0) this.room[0] = cap;
  }
}
