/**
 * The IVF index's centroids, as int8 code rows in a kernel instance of their own: training
 * fills a new set while the index keeps answering from its rows (a separate memory, so
 * nothing the index holds moves), and a trained set is swapped in whole.
 *
 * With many centroids they are grouped under √n coarse centres (stored after the n rows), so
 * filing a row scores √n + COARSE_PROBE·√n centroids instead of all n — ~9× less at 1,265
 * lists. Queries always score every centroid (`probe`), filing may use the groups (`nearest`).
 *
 * Memory (byte offsets, 16-aligned): [query int16 × stride][heap (score, row) × (n + 8)]
 *   [staging floats][scales f32 × (n + √n)][codes × (n + √n) × stride]
 */
import { SysError } from '../../abi/errors';
import {
  align16,
  type CodeRows,
  growMemory,
  instantiateKernel,
  type KernelExports,
  loadQuery,
  packCodes,
  quantizeBatch,
  rowStride,
  STAGE_ROWS,
  unpackCodes,
} from './int8-codes';
import type { TimeSlice } from './time-slice';

/** Most centroids an index trains (bounds their kernel's memory: 16k × 384 B ≈ 6 MB). */
export const MAX_NLIST = 16_384;
/** Centroid counts above this are grouped for filing rows (below it a full scan is as cheap). */
const COARSE_MIN = 256;
/** Coarse groups searched when filing a row. */
const COARSE_PROBE = 3;
/** Grouped filing must agree with the exact nearest centroid on this share of a sample. */
const GROUPING_AGREEMENT = 0.98;

export class Centroids {
  readonly stride: number;
  private readonly qOff: number;
  private readonly heapOff: number;
  private readonly rows: CodeRows;
  /** Coarse groups (0: not grouped); group g holds centroids [coarseStart[g], coarseStart[g+1]). */
  private coarseN = 0;
  private coarseStart = new Uint32Array(1);

  private constructor(
    private readonly w: KernelExports,
    readonly dim: number,
    /** How many centroids (= lists). */
    readonly n: number,
  ) {
    this.stride = rowStride(dim);
    this.qOff = align16(w.heapBase());
    this.heapOff = align16(this.qOff + this.stride * 2);
    const scratchOff = align16(this.heapOff + (n + 8) * 8);
    const room = n + Math.ceil(Math.sqrt(n));
    const scalesOff = align16(scratchOff + STAGE_ROWS * dim * 4);
    const codesOff = align16(scalesOff + room * 4);
    growMemory(w, codesOff + room * this.stride, room);
    this.rows = { dim, stride: this.stride, scratchOff, scalesOff, codesOff };
  }

  static async create(dim: number, n: number): Promise<Centroids> {
    if (!Number.isInteger(n) || n < 1 || n > MAX_NLIST)
      throw new SysError('EINVAL', `an IVF index has 1 to ${MAX_NLIST} lists, not ${n}`);
    return new Centroids(await instantiateKernel(), dim, n);
  }

  /** Bytes of the centroids' kernel memory. */
  get memoryBytes(): number {
    return this.w.memory.buffer.byteLength;
  }

  get grouped(): boolean {
    return this.coarseN > 0;
  }

  /**
   * Quantises float centroids (n × dim) into place. With `group` and many centroids, first
   * groups them under coarse centres (a small k-means; `cent` is reordered in place so each
   * group's centroids are contiguous), yielding through `slice` between centroids.
   */
  async set(cent: Float32Array, group: boolean, slice: TimeSlice): Promise<void> {
    const { dim, n } = this;
    const S = Math.ceil(Math.sqrt(n));
    this.coarseN = 0;
    if (group && n > COARSE_MIN) {
      const coarse = new Float32Array(S * dim);
      for (let g = 0; g < S; g++) {
        const c = Math.floor((g * n) / S);
        coarse.set(cent.subarray(c * dim, (c + 1) * dim), g * dim);
      }
      const groupOf = new Uint32Array(n);
      for (let it = 0; it < 4; it++) {
        for (let c = 0; c < n; c++) {
          let best = -Infinity;
          for (let g = 0; g < S; g++) {
            let d = 0;
            for (let j = 0; j < dim; j++) d += cent[c * dim + j]! * coarse[g * dim + j]!;
            if (d > best) {
              best = d;
              groupOf[c] = g;
            }
          }
          if ((c & 15) === 15) await slice.check();
        }
        const keep = coarse.slice();
        coarse.fill(0);
        const sizes = new Uint32Array(S);
        for (let c = 0; c < n; c++) {
          const g = groupOf[c]!;
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
        await slice.check();
      }
      // Reorder centroids by group (a counting sort), in place.
      const start = new Uint32Array(S + 1);
      for (let c = 0; c < n; c++) start[groupOf[c]! + 1]!++;
      for (let g = 0; g < S; g++) start[g + 1]! += start[g]!;
      const fill = start.slice(0, S);
      const sorted = new Float32Array(n * dim);
      for (let c = 0; c < n; c++)
        sorted.set(cent.subarray(c * dim, (c + 1) * dim), fill[groupOf[c]!]!++ * dim);
      cent.set(sorted);
      // An empty group gets some direction (it is never chosen usefully, and never empty-scanned).
      for (let g = 0; g < S; g++) if (start[g] === start[g + 1]) coarse.set(cent.subarray(0, dim), g * dim);
      this.quantize(coarse, S, n);
      this.coarseStart = start;
      this.coarseN = S;
    }
    this.quantize(cent, n, 0);
  }

  /** Loads stored centroids (scales f32 × n, then codes dim × n); not grouped. */
  loadPacked(scales: Uint8Array, codes: Uint8Array): void {
    const mem = new Uint8Array(this.w.memory.buffer);
    mem.set(scales.subarray(0, this.n * 4), this.rows.scalesOff);
    unpackCodes(codes, this.n, this.dim, this.stride, mem, this.rows.codesOff);
    this.coarseN = 0;
  }

  /** Writes the scales (f32 × n) then the codes (dim × n) at `out[at]`; returns the end. */
  pack(out: Uint8Array, at: number): number {
    const mem = new Uint8Array(this.w.memory.buffer);
    const { scalesOff, codesOff } = this.rows;
    out.set(mem.subarray(scalesOff, scalesOff + this.n * 4), at);
    packCodes(mem, codesOff, this.n, this.dim, this.stride, out, at + this.n * 4);
    return at + this.n * (4 + this.dim);
  }

  /** The `p` centroids nearest the unit query `q`, every centroid scored. */
  probe(q: Float32Array, p: number): Uint32Array {
    const { w } = this;
    loadQuery(w, this.qOff, q, this.stride);
    const got = w.searchTopK(
      this.qOff,
      this.rows.codesOff,
      this.rows.scalesOff,
      this.n,
      this.stride,
      1,
      Math.min(p, this.n),
      this.heapOff,
    );
    const heap = new Int32Array(w.memory.buffer, this.heapOff, got * 2);
    const chosen = new Uint32Array(got);
    for (let i = 0; i < got; i++) chosen[i] = heap[2 * i + 1]!;
    return chosen;
  }

  /** Nearest centroid of an int8 code row (`stride` bytes), through the groups if any. */
  nearest(row: Int8Array): number {
    const { w, stride } = this;
    new Int16Array(w.memory.buffer, this.qOff, stride).set(row);
    const { codesOff, scalesOff } = this.rows;
    if (this.coarseN === 0) {
      w.searchTopK(this.qOff, codesOff, scalesOff, this.n, stride, 1, 1, this.heapOff);
      return new Int32Array(w.memory.buffer, this.heapOff, 2)[1]!;
    }
    const P = Math.min(COARSE_PROBE, this.coarseN);
    const got = w.searchTopK(
      this.qOff,
      codesOff + this.n * stride,
      scalesOff + this.n * 4,
      this.coarseN,
      stride,
      1,
      P,
      this.heapOff,
    );
    const pairs = new Int32Array(w.memory.buffer, this.heapOff, got * 2);
    const groups = Array.from({ length: got }, (_, i) => pairs[2 * i + 1]!);
    const heap = this.heapOff + 64;
    let size = 0;
    for (const g of groups) {
      const a = this.coarseStart[g]!;
      const len = this.coarseStart[g + 1]! - a;
      if (len > 0)
        size = w.searchMore(
          this.qOff,
          codesOff + a * stride,
          scalesOff + a * 4,
          len,
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

  /**
   * Keeps the grouping only if grouped filing agrees with the exact nearest centroid on
   * ≥ 98% of `rows` code rows (well-separated clusters defeat it); returns whether it is kept.
   */
  checkGrouping(codes: Int8Array, rows: number): boolean {
    if (this.coarseN === 0) return false;
    const { stride } = this;
    let agree = 0;
    for (let r = 0; r < rows; r++) {
      const row = codes.subarray(r * stride, (r + 1) * stride);
      const viaGroups = this.nearest(row);
      const S = this.coarseN;
      this.coarseN = 0;
      if (this.nearest(row) === viaGroups) agree++;
      this.coarseN = S;
    }
    if (agree < GROUPING_AGREEMENT * rows) this.coarseN = 0;
    return this.coarseN > 0;
  }

  /** Quantises `rows` float rows of `src` into the code rows from row `at`. */
  private quantize(src: Float32Array, rows: number, at: number): void {
    const { dim } = this;
    // A centroid of exactly opposite rows sums to ~0: give it a tiny direction instead of failing.
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let j = 0; j < dim; j++) ss += src[r * dim + j]! ** 2;
      if (!(ss > 1e-20)) src[r * dim + (r % dim)] = 1;
    }
    quantizeBatch(this.w, this.rows, src, rows, at);
  }
}
