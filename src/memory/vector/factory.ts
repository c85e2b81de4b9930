/** Making and loading a vector index by kind (flat-i8 by default; voy loaded on demand). */
import { SysError } from '../../abi/errors';
import { FlatI8Index } from './flat-index';
import { readHeader, type VectorIndex, type VectorIndexKind } from './vector-index';

export const DEFAULT_VECTOR_INDEX: VectorIndexKind = 'flat-i8';

export async function createVectorIndex(
  dim: number,
  kind: VectorIndexKind = DEFAULT_VECTOR_INDEX,
): Promise<VectorIndex> {
  if (kind === 'flat-i8') return FlatI8Index.create(dim);
  if (kind === 'voy') return (await import('./voy-index')).VoyIndex.create(dim);
  throw new SysError('EINVAL', `unknown vector index kind '${kind as string}'`);
}

/** Loads any serialised index, dispatching on the kind in its header. */
export async function loadVectorIndex(bytes: Uint8Array): Promise<VectorIndex> {
  const { kind } = readHeader(bytes);
  if (kind === 'voy') return (await import('./voy-index')).VoyIndex.load(bytes);
  return FlatI8Index.load(bytes);
}
