/**
 * Int8 code rows in a WASM SIMD kernel's memory: what the flat and the IVF index share.
 * Every vector is normalised and scalar-quantised to int8 with one f32 scale per row; rows
 * sit `stride` bytes apart (dim rounded up to the kernel's 32-byte step, zero padded), their
 * scales in a separate f32 block. A query is scaled to int16 and scanned against a range of
 * rows by the kernel, which keeps the top k in a heap of (f32 score, i32 row) pairs.
 * Stored forms drop the row padding (dim bytes a row).
 */
import { SysError } from '../../abi/errors';
import { batchRow, byScore, LITTLE_ENDIAN, MAX_K, type SearchHit, type VectorBatch } from './vector-index';
import { KERNEL_WASM_BASE64 } from './wasm/kernel-wasm';

/** One scan of `n` rows from `codes` into the top-k heap at `heap` (see wasm/kernel.ts). */
type ScanArgs = [
  q: number,
  codes: number,
  scales: number,
  n: number,
  stride: number,
  qmul: number,
  k: number,
  heap: number,
];

export interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  quantize(src: number, rows: number, dim: number, dst: number, stride: number, scales: number): number;
  searchTopK(...scan: ScanArgs): number;
  /** As searchTopK, continuing a heap of `size` entries and numbering rows from `rowBase`. */
  searchMore(...scan: [...ScanArgs, size: number, rowBase: number]): number;
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

/** A fresh instance of the SIMD kernel (own memory), sharing one compiled module. */
export async function instantiateKernel(): Promise<KernelExports> {
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
export const STAGE_ROWS = 256;
export const align16 = (x: number) => (x + 15) & ~15;
/** Bytes per stored row: dim rounded up to the kernel's 32-byte step. */
export const rowStride = (dim: number) => (dim + 31) & ~31;

/** Where one block of code rows lives in a kernel's memory. */
export interface CodeRows {
  readonly dim: number;
  readonly stride: number;
  /** Staging floats: room for STAGE_ROWS × dim f32. */
  readonly scratchOff: number;
  readonly codesOff: number;
  readonly scalesOff: number;
}

/**
 * Quantises `rows` vectors of `vectors` into rows `first…` of `at`; EINVAL (naming the batch
 * row) on a zero or non-finite vector. Rows quantised before the bad one are written but not
 * committed: the caller commits only after this returns.
 */
export function quantizeBatch(
  w: KernelExports,
  at: CodeRows,
  vectors: VectorBatch,
  rows: number,
  first: number,
): void {
  const { dim, stride } = at;
  const row = new Float32Array(dim);
  for (let s = 0; s < rows; s += STAGE_ROWS) {
    const r = Math.min(STAGE_ROWS, rows - s);
    const stage = new Float32Array(w.memory.buffer, at.scratchOff, r * dim);
    if (vectors instanceof Float32Array) stage.set(vectors.subarray(s * dim, (s + r) * dim));
    else
      for (let i = 0; i < r; i++) {
        batchRow(vectors, s + i, dim, row);
        stage.set(row, i * dim);
      }
    const bad = w.quantize(
      at.scratchOff,
      r,
      dim,
      at.codesOff + (first + s) * stride,
      stride,
      at.scalesOff + (first + s) * 4,
    );
    if (bad >= 0)
      throw new SysError('EINVAL', `vector ${s + bad} is the zero vector or contains NaN/Infinity`);
  }
}

/**
 * Writes the unit query `q` as int16 at `qOff` (padding zeroed), at the largest scale that keeps
 * Σ|q|·127 inside int32; returns the factor (qmul) that turns kernel dot products back into cosines.
 */
export function loadQuery(w: KernelExports, qOff: number, q: Float32Array, stride: number): number {
  const dim = q.length;
  let maxabs = 0;
  for (let j = 0; j < dim; j++) maxabs = Math.max(maxabs, Math.abs(q[j]!));
  const qmax = Math.min(32767, Math.floor(0x7fff_ffff / (stride * 127)));
  const qscale = qmax / maxabs;
  const q16 = new Int16Array(w.memory.buffer, qOff, stride);
  for (let j = 0; j < dim; j++) q16[j] = Math.round(q[j]! * qscale);
  q16.fill(0, dim);
  return 1 / qscale;
}

/** The kernel's heap of `got` entries as hits, best first; heap rows are slots into `ids`. */
export function heapHits(w: KernelExports, heapOff: number, got: number, ids: Uint32Array): SearchHit[] {
  const heapF = new Float32Array(w.memory.buffer, heapOff, got * 2);
  const heapI = new Int32Array(w.memory.buffer, heapOff, got * 2);
  const hits: SearchHit[] = new Array(got);
  for (let i = 0; i < got; i++) hits[i] = { id: ids[heapI[2 * i + 1]!]!, score: heapF[2 * i]! };
  return hits.sort(byScore);
}

/** Copies `rows` code rows from `mem` at `from` (pitch `stride`) to `out` at `at` without padding. */
export function packCodes(
  mem: Uint8Array,
  from: number,
  rows: number,
  dim: number,
  stride: number,
  out: Uint8Array,
  at: number,
): void {
  if (stride === dim) out.set(mem.subarray(from, from + rows * dim), at);
  else
    for (let i = 0; i < rows; i++)
      out.set(mem.subarray(from + i * stride, from + i * stride + dim), at + i * dim);
}

/** The inverse of packCodes: `rows` packed rows of `src` into `mem` at `to`, padding zeroed. */
export function unpackCodes(
  src: Uint8Array,
  rows: number,
  dim: number,
  stride: number,
  mem: Uint8Array,
  to: number,
): void {
  if (stride === dim) mem.set(src.subarray(0, rows * dim), to);
  else
    for (let i = 0; i < rows; i++) {
      const dst = to + i * stride;
      mem.set(src.subarray(i * dim, (i + 1) * dim), dst);
      mem.fill(0, dst + dim, dst + stride);
    }
}

/** EINVAL unless every stored row scale is positive and finite (a corrupt snapshot otherwise). */
export function checkScales(scales: Float32Array): void {
  for (let i = 0; i < scales.length; i++) {
    const s = scales[i]!;
    if (!(s > 0 && s < Number.POSITIVE_INFINITY))
      throw new SysError('EINVAL', `serialized index has a bad scale at row ${i}`);
  }
}

/** Grows the kernel's memory to hold `end` bytes; ENOSPC (naming `rows`) if the browser refuses. */
export function growMemory(w: KernelExports, end: number, rows: number): void {
  const pages = Math.ceil(end / PAGE) - w.memory.buffer.byteLength / PAGE;
  if (pages <= 0) return;
  try {
    w.memory.grow(pages);
  } catch {
    throw new SysError('ENOSPC', `vector index cannot grow to ${rows} rows (${end} bytes of WASM memory)`);
  }
}

/** Moves the code row and scale of slot `from` to slot `to`. */
export function moveRow(mem: Uint8Array, at: CodeRows, from: number, to: number): void {
  const f = at.codesOff + from * at.stride;
  mem.copyWithin(at.codesOff + to * at.stride, f, f + at.stride);
  mem.copyWithin(at.scalesOff + to * 4, at.scalesOff + from * 4, at.scalesOff + from * 4 + 4);
}

/**
 * The memory both indexes keep in their kernel: [query int16 × stride][scratch: staging floats |
 * top-k heap][scales f32 × cap][codes × cap × stride], slots numbered from 0, with each slot's id.
 * Growing moves only the codes block (scales keep their start, so they just extend).
 */
export abstract class Int8Rows {
  protected readonly stride: number;
  protected readonly qOff: number;
  protected readonly scratchOff: number;
  protected readonly scalesOff: number;
  protected codesOff: number;
  protected cap = 0;
  /** Slot → id. */
  protected ids = new Uint32Array(0);
  protected slotOf = new Map<number, number>();
  private wasm: KernelExports | undefined;

  protected constructor(
    readonly dim: number,
    wasm: KernelExports,
    /** Factor capacity grows by (geometric, so appends stay amortised O(1)). */
    private readonly growth: number,
  ) {
    this.wasm = wasm;
    this.stride = rowStride(dim);
    this.qOff = align16(wasm.heapBase());
    this.scratchOff = align16(this.qOff + this.stride * 2);
    const scratchBytes = Math.max(STAGE_ROWS * dim * 4, MAX_K * 8);
    this.scalesOff = align16(this.scratchOff + scratchBytes);
    this.codesOff = this.scalesOff;
  }

  has(id: number): boolean {
    return this.slotOf.has(id);
  }

  /** Bytes of WASM memory held (for diagnostics and benchmarks). */
  get memoryBytes(): number {
    return this.wasm?.memory.buffer.byteLength ?? 0;
  }

  dispose(): void {
    this.wasm = undefined;
    this.slotOf.clear();
    this.ids = new Uint32Array(0);
  }

  /**
   * Takes over `from`'s rows (its kernel, slots and ids), leaving it disposed: a new layout built
   * aside becomes this one's in one step. Both have the same dim, so the same fixed regions.
   */
  protected adopt(from: Int8Rows): void {
    this.wasm = from.live();
    this.codesOff = from.codesOff;
    this.cap = from.cap;
    this.ids = from.ids;
    this.slotOf = from.slotOf;
    from.wasm = undefined;
    from.slotOf = new Map();
    from.ids = new Uint32Array(0);
  }

  /** Slots in use from 0 (live rows, and any room between them): what growing must keep. */
  protected abstract used(): number;

  protected get disposed(): boolean {
    return this.wasm === undefined;
  }

  protected live(): KernelExports {
    if (!this.wasm) throw new SysError('EINVAL', 'vector index has been disposed');
    return this.wasm;
  }

  /** Where the code rows are now (the codes block moves as the index grows). */
  protected rows(): CodeRows {
    const { dim, stride, scratchOff, codesOff, scalesOff } = this;
    return { dim, stride, scratchOff, codesOff, scalesOff };
  }

  /** The int8 code row in `slot` (a view: valid until memory grows or rows move). */
  protected codeRow(slot: number): Int8Array {
    return new Int8Array(this.live().memory.buffer, this.codesOff + slot * this.stride, this.stride);
  }

  /** Moves the row in slot `from` (code, scale, id) to slot `to`. */
  protected moveSlot(from: number, to: number): void {
    moveRow(new Uint8Array(this.live().memory.buffer), this.rows(), from, to);
    const id = this.ids[from]!;
    this.ids[to] = id;
    this.slotOf.set(id, to);
  }

  /** Ensures room for `need` slots, growing by `growth`; ENOSPC if the browser refuses memory. */
  protected reserve(need: number): void {
    if (need <= this.cap) return;
    const w = this.live();
    const cap = Math.max(need, Math.ceil(this.cap * this.growth));
    const codesOff = align16(this.scalesOff + cap * 4);
    growMemory(w, codesOff + cap * this.stride, cap);
    const used = this.used();
    if (codesOff !== this.codesOff && used > 0) {
      const mem = new Uint8Array(w.memory.buffer);
      mem.copyWithin(codesOff, this.codesOff, this.codesOff + used * this.stride);
    }
    this.codesOff = codesOff;
    const ids = new Uint32Array(cap);
    ids.set(this.ids.subarray(0, Math.min(used, this.ids.length)));
    this.ids = ids;
    this.cap = cap;
  }
}
