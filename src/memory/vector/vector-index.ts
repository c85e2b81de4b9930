/**
 * The long-term-memory vector index contract. Two implementations sit behind it:
 * `FlatI8Index` (ours: int8-quantised flat scan with a WASM SIMD inner loop, the default)
 * and `VoyIndex` (voy-search, the k-d tree the design card names, kept for comparison).
 *
 * Similarity is cosine: every vector and query is normalised on the way in, so scores are
 * in [-1, 1] and higher is closer. Ids are uint32 (IndexedDB autoIncrement keys fit).
 */
import { SysError } from '../../abi/errors';

export type VectorId = number;

export interface SearchHit {
  id: VectorId;
  /** Cosine similarity (approximate for quantised indexes), higher is closer. */
  score: number;
}

/** Either `ids.length × dim` packed floats, or one array per id. */
export type VectorBatch = Float32Array | readonly ArrayLike<number>[];

export type VectorIndexKind = 'flat-i8' | 'voy';

export interface VectorIndex {
  readonly kind: VectorIndexKind;
  readonly dim: number;
  /** Live vectors. */
  readonly size: number;
  /**
   * Adds a batch (an existing id is replaced). Atomic: on any bad id or vector it throws
   * SysError EINVAL and leaves the index unchanged.
   */
  add(ids: ArrayLike<VectorId>, vectors: VectorBatch): void;
  /** Removes one vector without rebuilding; false if the id was absent. */
  remove(id: VectorId): boolean;
  has(id: VectorId): boolean;
  /** The k nearest by cosine similarity, best first (fewer if the index is smaller). */
  search(query: ArrayLike<number>, k: number): SearchHit[];
  /** Compact little-endian binary form; load it back with `loadVectorIndex`. */
  serialize(): Uint8Array;
  /** Frees WASM memory; the index is unusable afterwards. */
  dispose(): void;
}

/** Largest k a search accepts (bounds the scratch heap in WASM memory). */
export const MAX_K = 10_000;
/** Largest dimension accepted (keeps the int16·int8 dot product inside int32). */
export const MAX_DIM = 4096;

/** Binary header shared by both serialised forms: magic "AOVI", u16 version, u16 kind. */
export const MAGIC = 0x4956_4f41; // "AOVI" little-endian
export const FORMAT_VERSION = 1;
export const KIND_CODE: Record<VectorIndexKind, number> = { 'flat-i8': 1, voy: 2 };

export function checkDim(dim: number): void {
  if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIM)
    throw new SysError('EINVAL', `dimension must be an integer in [1, ${MAX_DIM}], got ${dim}`);
}

export function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 0 || k > MAX_K)
    throw new SysError('EINVAL', `k must be an integer in [0, ${MAX_K}], got ${k}`);
}

export function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff)
    throw new SysError('EINVAL', `id must be an integer in [0, 2^32), got ${id}`);
}

/** Validates a batch's shape and ids (not vector values); returns the row count. */
export function checkBatch(ids: ArrayLike<VectorId>, vectors: VectorBatch, dim: number): number {
  const n = ids.length;
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    checkId(id);
    if (seen.has(id)) throw new SysError('EINVAL', `id ${id} appears twice in one batch`);
    seen.add(id);
  }
  if (vectors instanceof Float32Array) {
    if (vectors.length !== n * dim)
      throw new SysError(
        'EINVAL',
        `batch has ${vectors.length} floats, expected ${n} ids × ${dim} dimensions = ${n * dim}`,
      );
  } else {
    if (vectors.length !== n)
      throw new SysError('EINVAL', `batch has ${vectors.length} vectors for ${n} ids`);
    for (let i = 0; i < n; i++) {
      const len = vectors[i]!.length;
      if (len !== dim)
        throw new SysError('EINVAL', `vector ${i} has ${len} dimensions, index expects ${dim}`);
    }
  }
  return n;
}

/** Copies row `i` of a batch into `out` (length dim). */
export function batchRow(vectors: VectorBatch, i: number, dim: number, out: Float32Array): void {
  if (vectors instanceof Float32Array) out.set(vectors.subarray(i * dim, (i + 1) * dim));
  else {
    const v = vectors[i]!;
    for (let j = 0; j < dim; j++) out[j] = v[j]!;
  }
}

/** Returns the query normalised to unit length, or throws EINVAL for bad shape/values. */
export function normalizedQuery(query: ArrayLike<number>, dim: number): Float32Array {
  if (query.length !== dim)
    throw new SysError('EINVAL', `query has ${query.length} dimensions, index expects ${dim}`);
  return normalized(query, 'query');
}

export function normalized(v: ArrayLike<number>, what: string): Float32Array {
  let ss = 0;
  for (let j = 0; j < v.length; j++) ss += v[j]! * v[j]!;
  if (!Number.isFinite(ss)) throw new SysError('EINVAL', `${what} contains NaN or Infinity`);
  if (ss === 0) throw new SysError('EINVAL', `${what} is the zero vector (no direction to compare)`);
  const inv = 1 / Math.sqrt(ss);
  const out = new Float32Array(v.length);
  for (let j = 0; j < v.length; j++) out[j] = v[j]! * inv;
  return out;
}

/** Sort order for results: score descending, then id ascending so ties are deterministic. */
export function byScore(a: SearchHit, b: SearchHit): number {
  return b.score - a.score || a.id - b.id;
}

/** Reads and validates the common header; throws EINVAL on anything malformed. */
export function readHeader(bytes: Uint8Array): { kind: VectorIndexKind; dim: number; count: number } {
  if (!(bytes instanceof Uint8Array)) throw new SysError('EINVAL', 'serialized index must be a Uint8Array');
  if (bytes.length < HEADER_BYTES)
    throw new SysError('EINVAL', `serialized index is ${bytes.length} bytes, shorter than its header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC)
    throw new SysError('EINVAL', 'not a serialized vector index (bad magic)');
  const version = dv.getUint16(4, true);
  if (version !== FORMAT_VERSION)
    throw new SysError(
      'EINVAL',
      `serialized index has format version ${version}, expected ${FORMAT_VERSION}`,
    );
  const code = dv.getUint16(6, true);
  const kind = (Object.keys(KIND_CODE) as VectorIndexKind[]).find((k) => KIND_CODE[k] === code);
  if (!kind) throw new SysError('EINVAL', `serialized index has unknown kind ${code}`);
  const dim = dv.getUint32(8, true);
  const count = dv.getUint32(12, true);
  if (dim < 1 || dim > MAX_DIM) throw new SysError('EINVAL', `serialized index has bad dimension ${dim}`);
  return { kind, dim, count };
}

/** magic u32, version u16, kind u16, dim u32, count u32, extra u32 (kind-specific), reserved u32. */
export const HEADER_BYTES = 24;

export function writeHeader(
  out: Uint8Array,
  kind: VectorIndexKind,
  dim: number,
  count: number,
  extra = 0,
): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(0, MAGIC, true);
  dv.setUint16(4, FORMAT_VERSION, true);
  dv.setUint16(6, KIND_CODE[kind], true);
  dv.setUint32(8, dim, true);
  dv.setUint32(12, count, true);
  dv.setUint32(16, extra, true);
  dv.setUint32(20, 0, true);
}

/** Typed arrays share the host's byte order; the formats are little-endian, like WASM. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
