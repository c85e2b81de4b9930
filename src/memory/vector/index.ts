/**
 * Entry point for the long-term-memory vector index. `flat-i8` (exact int8 SIMD scan) is the
 * default. `ivf-i8` is the same scan until `trainAt` vectors, then an inverted file over the
 * same codes (ivf-index.ts; numbers in bench/vector-peers.ts): far faster queries past ~20k,
 * but not yet the memory's default — its k-means trainings now run in time slices in the
 * background, but a full list still relayouts everything in one step, which made many small
 * remember() calls ~3× slower in the reload bench. voy is loaded on demand only, for comparison. Making and loading by kind is in
 * factory.ts (its own module, so persist.ts can use it without a cycle through this file).
 */
export { createVectorIndex, DEFAULT_VECTOR_INDEX, loadVectorIndex } from './factory';
export { FlatI8Index } from './flat-index';
export { IvfI8Index } from './ivf-index';
export { openVectorStore, type VectorStore } from './persist';
export type { SearchHit, VectorBatch, VectorId, VectorIndex, VectorIndexKind } from './vector-index';
