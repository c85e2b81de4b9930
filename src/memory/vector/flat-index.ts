/**
 * Our vector index: every vector is normalised and scalar-quantised to int8 with one f32
 * scale per row (4× smaller than f32, ~1% score error), and a query scans all rows with a
 * WASM SIMD int16·int8 dot product, keeping the top k in a heap inside WASM.
 *
 * Why flat and not HNSW/IVF: at the sizes a user's memory reaches (≤100k) a SIMD scan is a
 * few ms, needs no training or graph build (adding 50k vectors takes tens of ms, not tens of
 * seconds), recall depends only on quantisation (no tuning knobs that silently degrade),
 * and add/remove are O(dim): append, or swap the last row into the hole.
 *
 * WASM memory layout (byte offsets, all 16-aligned), owned here, not by the kernel:
 *   [query int16 × stride][scratch: staging floats for add / top-k heap][scales f32 × cap][codes int8 × stride × cap]
 * Growing moves only the codes block (scales keep their start, so they just extend).
 */
import { SysError } from '../../abi/errors';
import {
  batchRow,
  byScore,
  checkBatch,
  checkDim,
  checkK,
  HEADER_BYTES,
  LITTLE_ENDIAN,
  MAX_K,
  normalizedQuery,
  readHeader,
  type SearchHit,
  type VectorBatch,
  type VectorId,
  type VectorIndex,
  writeHeader,
} from './vector-index';
import { KERNEL_WASM_BASE64 } from './wasm/kernel-wasm';

interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  quantize(src: number, rows: number, dim: number, dst: number, stride: number, scales: number): number;
  searchTopK(
    q: number,
    codes: number,
    scales: number,
    n: number,
    stride: number,
    qmul: number,
    k: number,
    heap: number,
  ): number;
}

let kernelModule: Promise<WebAssembly.Module> | undefined;

function compileKernel(): Promise<WebAssembly.Module> {
  const bin = atob(KERNEL_WASM_BASE64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return WebAssembly.compile(bytes);
}

/** Forgets the compiled module so the next index compiles afresh (benchmarks a cold start). */
export function resetKernelCache(): void {
  kernelModule = undefined;
}

async function instantiateKernel(): Promise<KernelExports> {
  if (!LITTLE_ENDIAN) throw new SysError('ENOSYS', 'vector index needs a little-endian host');
  kernelModule ??= compileKernel().catch((e: unknown) => {
    kernelModule = undefined;
    throw new SysError('ENOSYS', `WASM SIMD unavailable: ${e instanceof Error ? e.message : String(e)}`);
  });
  const instance = await WebAssembly.instantiate(await kernelModule, {});
  return instance.exports as unknown as KernelExports;
}

const PAGE = 65536;
/** Rows staged per quantize call: bounds scratch memory independent of batch size. */
const STAGE_ROWS = 256;
const align16 = (x: number) => (x + 15) & ~15;

export class FlatI8Index implements VectorIndex {
  readonly kind = 'flat-i8' as const;
  /** Bytes per stored row: dim rounded up to the kernel's 32-byte step, zero padded. */
  private readonly stride: number;
  private readonly qOff: number;
  private readonly scratchOff: number;
  private readonly scalesOff: number;
  private codesOff: number;
  private cap = 0;
  private n = 0;
  /** Slot → id; slots [0, n) are all live (no tombstones, removal swaps the last row in). */
  private ids = new Uint32Array(0);
  private readonly slotOf = new Map<VectorId, number>();
  private wasm: KernelExports | undefined;

  private constructor(
    readonly dim: number,
    wasm: KernelExports,
    capacity: number,
  ) {
    this.wasm = wasm;
    this.stride = (dim + 31) & ~31;
    this.qOff = align16(wasm.heapBase());
    this.scratchOff = align16(this.qOff + this.stride * 2);
    const scratchBytes = Math.max(STAGE_ROWS * dim * 4, MAX_K * 8);
    this.scalesOff = align16(this.scratchOff + scratchBytes);
    this.codesOff = this.scalesOff;
    this.reserve(Math.max(capacity, 64));
  }

  /** An empty index for `dim`-dimensional vectors. */
  static async create(dim: number, opts: { capacity?: number } = {}): Promise<FlatI8Index> {
    checkDim(dim);
    return new FlatI8Index(dim, await instantiateKernel(), opts.capacity ?? 0);
  }

  /** Rebuilds an index from `serialize()` output; throws EINVAL on corrupt bytes. */
  static async load(bytes: Uint8Array): Promise<FlatI8Index> {
    const { kind, dim, count } = readHeader(bytes);
    if (kind !== 'flat-i8') throw new SysError('EINVAL', `serialized index is '${kind}', not 'flat-i8'`);
    const expected = HEADER_BYTES + count * (8 + dim);
    if (bytes.length !== expected)
      throw new SysError(
        'EINVAL',
        `serialized flat-i8 index is ${bytes.length} bytes, header says ${count}×${dim} → ${expected}`,
      );
    const index = new FlatI8Index(dim, await instantiateKernel(), count);
    index.restore(bytes, count);
    return index;
  }

  get size(): number {
    return this.n;
  }

  has(id: VectorId): boolean {
    return this.slotOf.has(id);
  }

  add(ids: ArrayLike<VectorId>, vectors: VectorBatch): void {
    const w = this.live();
    const rows = checkBatch(ids, vectors, this.dim);
    if (rows === 0) return;
    const base = this.n;
    this.reserve(base + rows);
    // Quantise into the free slots after the live rows; nothing is committed until all pass.
    const row = new Float32Array(this.dim);
    for (let start = 0; start < rows; start += STAGE_ROWS) {
      const r = Math.min(STAGE_ROWS, rows - start);
      const stage = new Float32Array(w.memory.buffer, this.scratchOff, r * this.dim);
      if (vectors instanceof Float32Array)
        stage.set(vectors.subarray(start * this.dim, (start + r) * this.dim));
      else
        for (let i = 0; i < r; i++) {
          batchRow(vectors, start + i, this.dim, row);
          stage.set(row, i * this.dim);
        }
      const bad = w.quantize(
        this.scratchOff,
        r,
        this.dim,
        this.codesOff + (base + start) * this.stride,
        this.stride,
        this.scalesOff + (base + start) * 4,
      );
      if (bad >= 0)
        throw new SysError('EINVAL', `vector ${start + bad} is the zero vector or contains NaN/Infinity`);
    }
    // Replaced ids: drop the old rows first, then slide the staged block down over the gap.
    let removed = 0;
    for (let i = 0; i < rows; i++) {
      const slot = this.slotOf.get(ids[i]!);
      if (slot !== undefined) {
        this.removeSlot(slot);
        removed++;
      }
    }
    if (removed > 0) {
      const u8 = new Uint8Array(w.memory.buffer);
      const from = this.codesOff + base * this.stride;
      u8.copyWithin(this.codesOff + this.n * this.stride, from, from + rows * this.stride);
      const sFrom = this.scalesOff + base * 4;
      u8.copyWithin(this.scalesOff + this.n * 4, sFrom, sFrom + rows * 4);
    }
    for (let i = 0; i < rows; i++) {
      const id = ids[i]!;
      this.ids[this.n] = id;
      this.slotOf.set(id, this.n++);
    }
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
    if (k === 0 || this.n === 0) return [];
    const kk = Math.min(k, this.n);
    // Query to int16 at the largest scale that keeps Σ|q|·127 inside int32.
    let maxabs = 0;
    for (let j = 0; j < this.dim; j++) maxabs = Math.max(maxabs, Math.abs(q[j]!));
    const qmax = Math.min(32767, Math.floor(0x7fff_ffff / (this.stride * 127)));
    const qscale = qmax / maxabs;
    const q16 = new Int16Array(w.memory.buffer, this.qOff, this.stride);
    for (let j = 0; j < this.dim; j++) q16[j] = Math.round(q[j]! * qscale);
    q16.fill(0, this.dim);
    const got = w.searchTopK(
      this.qOff,
      this.codesOff,
      this.scalesOff,
      this.n,
      this.stride,
      1 / qscale,
      kk,
      this.scratchOff,
    );
    const heapF = new Float32Array(w.memory.buffer, this.scratchOff, got * 2);
    const heapI = new Int32Array(w.memory.buffer, this.scratchOff, got * 2);
    const hits: SearchHit[] = new Array(got);
    for (let i = 0; i < got; i++) hits[i] = { id: this.ids[heapI[2 * i + 1]!]!, score: heapF[2 * i]! };
    return hits.sort(byScore);
  }

  /**
   * Layout (little-endian): 24-byte header (magic "AOVI", version 1, kind 1, dim, count),
   * ids u32[count], scales f32[count], codes i8[count × dim] (row padding is not stored).
   */
  serialize(): Uint8Array {
    const w = this.live();
    const { n, dim, stride } = this;
    const out = new Uint8Array(HEADER_BYTES + n * (8 + dim));
    writeHeader(out, 'flat-i8', dim, n);
    out.set(new Uint8Array(this.ids.buffer, 0, n * 4), HEADER_BYTES);
    const mem = new Uint8Array(w.memory.buffer);
    out.set(mem.subarray(this.scalesOff, this.scalesOff + n * 4), HEADER_BYTES + n * 4);
    const codesAt = HEADER_BYTES + n * 8;
    if (stride === dim) out.set(mem.subarray(this.codesOff, this.codesOff + n * dim), codesAt);
    else
      for (let i = 0; i < n; i++) {
        const from = this.codesOff + i * stride;
        out.set(mem.subarray(from, from + dim), codesAt + i * dim);
      }
    return out;
  }

  dispose(): void {
    this.wasm = undefined;
    this.slotOf.clear();
    this.ids = new Uint32Array(0);
    this.n = 0;
  }

  /** Bytes of WASM memory in use (for diagnostics/benchmarks). */
  get memoryBytes(): number {
    return this.wasm?.memory.buffer.byteLength ?? 0;
  }

  private live(): KernelExports {
    if (!this.wasm) throw new SysError('EINVAL', 'vector index has been disposed');
    return this.wasm;
  }

  private restore(bytes: Uint8Array, count: number): void {
    const w = this.live();
    const { dim, stride } = this;
    // Copy through byte views: `bytes` may sit at any offset, typed views need alignment.
    new Uint8Array(this.ids.buffer, 0, count * 4).set(bytes.subarray(HEADER_BYTES, HEADER_BYTES + count * 4));
    for (let i = 0; i < count; i++) {
      const id = this.ids[i]!;
      if (this.slotOf.has(id)) throw new SysError('EINVAL', `serialized index repeats id ${id}`);
      this.slotOf.set(id, i);
    }
    const mem = new Uint8Array(w.memory.buffer);
    const scalesAt = HEADER_BYTES + count * 4;
    mem.set(bytes.subarray(scalesAt, scalesAt + count * 4), this.scalesOff);
    const scales = new Float32Array(w.memory.buffer, this.scalesOff, count);
    for (let i = 0; i < count; i++) {
      const s = scales[i]!;
      if (!(s > 0 && s < Number.POSITIVE_INFINITY))
        throw new SysError('EINVAL', `serialized index has a bad scale at row ${i}`);
    }
    const codesAt = HEADER_BYTES + count * 8;
    if (stride === dim) mem.set(bytes.subarray(codesAt, codesAt + count * dim), this.codesOff);
    else
      for (let i = 0; i < count; i++)
        mem.set(bytes.subarray(codesAt + i * dim, codesAt + (i + 1) * dim), this.codesOff + i * stride);
    this.n = count;
  }

  private removeSlot(slot: number): void {
    const w = this.live();
    const last = this.n - 1;
    const id = this.ids[slot]!;
    if (slot !== last) {
      const mem = new Uint8Array(w.memory.buffer);
      const from = this.codesOff + last * this.stride;
      mem.copyWithin(this.codesOff + slot * this.stride, from, from + this.stride);
      mem.copyWithin(this.scalesOff + slot * 4, this.scalesOff + last * 4, this.scalesOff + last * 4 + 4);
      const moved = this.ids[last]!;
      this.ids[slot] = moved;
      this.slotOf.set(moved, slot);
    }
    this.slotOf.delete(id);
    this.n = last;
  }

  /** Ensures room for `need` rows, growing by 1.5× so appends stay amortised O(1). */
  private reserve(need: number): void {
    if (need <= this.cap) return;
    const w = this.live();
    const cap = Math.max(need, Math.ceil(this.cap * 1.5));
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
    if (codesOff !== this.codesOff && this.n > 0) {
      const mem = new Uint8Array(w.memory.buffer);
      mem.copyWithin(codesOff, this.codesOff, this.codesOff + this.n * this.stride);
    }
    this.codesOff = codesOff;
    const ids = new Uint32Array(cap);
    ids.set(this.ids.subarray(0, this.n));
    this.ids = ids;
    this.cap = cap;
  }
}
