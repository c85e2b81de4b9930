/**
 * Entry point for the long-term-memory vector index. `flat-i8` (ours) is the default: see
 * docs in flat-index.ts and the numbers from bench/vector.ts. voy is loaded on demand only.
 */
export { createVectorIndex, DEFAULT_VECTOR_INDEX, loadVectorIndex } from './factory';
export { FlatI8Index } from './flat-index';
export { openVectorStore, type VectorStore } from './persist';
export type { SearchHit, VectorBatch, VectorId, VectorIndex, VectorIndexKind } from './vector-index';
