/**
 * Entry point for the long-term-memory vector index. `flat-i8` (exact int8 SIMD scan) is the
 * default. `ivf-i8` is the same scan until `trainAt` vectors, then an inverted file over the
 * same codes (ivf-index.ts; numbers in bench/vector-peers.ts): far faster queries past ~20k,
 * but not yet the memory's default — its k-means trainings run on the caller's thread and a
 * full list relayouts everything, which made many small remember() calls ~3× slower in the
 * reload bench. voy is loaded on demand only, for comparison.
 */
import { SysError } from '../../kernel/errors';
import { FlatI8Index } from './flat-index';
import { IvfI8Index } from './ivf-index';
import { readHeader, type VectorIndex, type VectorIndexKind } from './vector-index';

export { FlatI8Index } from './flat-index';
export { IvfI8Index } from './ivf-index';
export { openVectorStore, type VectorStore } from './persist';
export type { SearchHit, VectorBatch, VectorId, VectorIndex, VectorIndexKind } from './vector-index';

export const DEFAULT_VECTOR_INDEX: VectorIndexKind = 'flat-i8';

export async function createVectorIndex(
  dim: number,
  kind: VectorIndexKind = DEFAULT_VECTOR_INDEX,
): Promise<VectorIndex> {
  if (kind === 'ivf-i8') return IvfI8Index.create(dim);
  if (kind === 'flat-i8') return FlatI8Index.create(dim);
  if (kind === 'voy') return (await import('./voy-index')).VoyIndex.create(dim);
  throw new SysError('EINVAL', `unknown vector index kind '${kind as string}'`);
}

/** Loads any serialised index, dispatching on the kind in its header. */
export async function loadVectorIndex(bytes: Uint8Array): Promise<VectorIndex> {
  const { kind } = readHeader(bytes);
  if (kind === 'voy') return (await import('./voy-index')).VoyIndex.load(bytes);
  if (kind === 'ivf-i8') return IvfI8Index.load(bytes);
  return FlatI8Index.load(bytes);
}
