/**
 * voy-search (the k-d tree the design card names) behind the `VectorIndex` interface, so it
 * can be measured against ours on equal terms. Its limits, which this adapter papers over:
 * - every vector is padded to 768 dimensions (so dim > 768 is refused here);
 * - squared Euclidean distance only — we normalise on the way in, which makes its ranking
 *   identical to cosine, and compute the cosine score ourselves (voy returns no distances);
 * - `remove` needs the whole original resource, so we keep a copy of every vector;
 * - `serialize()` is JSON (~8.3 KB per 384-d vector) and hits V8's string limit near 65k.
 *
 * voy's published entry imports its .wasm as an ES module (needs a bundler plugin); we
 * load the wasm-bindgen glue directly and instantiate the wasm ourselves: from `?url` in
 * the browser, or from bytes the caller passes (node tests).
 */

import type { EmbeddedResource, Voy } from 'voy-search';
import * as glue from 'voy-search/voy_search_bg.js';
import voyWasmUrl from 'voy-search/voy_search_bg.wasm?url';
import { SysError } from '../../abi/errors';
import {
  byScore,
  checkBatch,
  checkDim,
  checkK,
  HEADER_BYTES,
  normalized,
  normalizedQuery,
  readHeader,
  type SearchHit,
  type VectorBatch,
  type VectorId,
  type VectorIndex,
  writeHeader,
} from './vector-index';

/** voy's fixed tree dimension. */
export const VOY_MAX_DIM = 768;

let ready: Promise<void> | undefined;

/**
 * Instantiates voy's wasm once. `source` is the wasm bytes (node has no fetch for vite's
 * asset URL); in the browser omit it and the bundled asset is fetched.
 */
export function initVoy(source?: BufferSource): Promise<void> {
  ready ??= (async () => {
    const bytes = source ?? (await (await fetch(voyWasmUrl)).arrayBuffer());
    const imports = { './voy_search_bg.js': glue as unknown as WebAssembly.ModuleImports };
    const { instance } = await WebAssembly.instantiate(bytes, imports);
    glue.__wbg_set_wasm(instance.exports);
  })().catch((e: unknown) => {
    ready = undefined;
    throw new SysError('EIO', `cannot load voy-search wasm: ${e instanceof Error ? e.message : String(e)}`);
  });
  return ready;
}

const item = (id: VectorId, v: Float32Array): EmbeddedResource => ({
  id: String(id),
  title: '',
  url: '',
  embeddings: Array.from(v),
});

export class VoyIndex implements VectorIndex {
  readonly kind = 'voy' as const;
  /** Normalised originals: voy's `remove` needs them, and they give us the scores. */
  private readonly vectors = new Map<VectorId, Float32Array>();
  private voy: Voy | undefined;

  private constructor(
    readonly dim: number,
    voy: Voy,
  ) {
    this.voy = voy;
  }

  static async create(dim: number, opts: { wasm?: BufferSource } = {}): Promise<VoyIndex> {
    checkDim(dim);
    if (dim > VOY_MAX_DIM)
      throw new SysError('EINVAL', `voy supports at most ${VOY_MAX_DIM} dimensions, got ${dim}`);
    await initVoy(opts.wasm);
    return new VoyIndex(dim, new glue.Voy());
  }

  /**
   * Layout: 24-byte header (kind 2, dim, count, extra = JSON byte length), ids u32[count],
   * vectors f32[count × dim], then voy's own JSON.
   */
  static async load(bytes: Uint8Array, opts: { wasm?: BufferSource } = {}): Promise<VoyIndex> {
    const { kind, dim, count } = readHeader(bytes);
    if (kind !== 'voy') throw new SysError('EINVAL', `serialized index is '${kind}', not 'voy'`);
    const jsonLen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(16, true);
    const vecAt = HEADER_BYTES + count * 4;
    const jsonAt = vecAt + count * dim * 4;
    if (bytes.length !== jsonAt + jsonLen)
      throw new SysError('EINVAL', `serialized voy index is ${bytes.length} bytes, header says otherwise`);
    await initVoy(opts.wasm);
    const ids = new Uint32Array(count);
    new Uint8Array(ids.buffer).set(bytes.subarray(HEADER_BYTES, vecAt));
    const flat = new Float32Array(count * dim);
    new Uint8Array(flat.buffer).set(bytes.subarray(vecAt, jsonAt));
    let voy: Voy;
    try {
      voy = glue.Voy.deserialize(new TextDecoder().decode(bytes.subarray(jsonAt)));
    } catch (e) {
      throw new SysError('EINVAL', `voy could not parse its index: ${e instanceof Error ? e.message : e}`);
    }
    const index = new VoyIndex(dim, voy);
    for (let i = 0; i < count; i++) index.vectors.set(ids[i]!, flat.slice(i * dim, (i + 1) * dim));
    if (index.vectors.size !== count) throw new SysError('EINVAL', 'serialized voy index repeats an id');
    return index;
  }

  get size(): number {
    return this.vectors.size;
  }

  has(id: VectorId): boolean {
    return this.vectors.has(id);
  }

  add(ids: ArrayLike<VectorId>, vectors: VectorBatch): void {
    const voy = this.live();
    const rows = checkBatch(ids, vectors, this.dim);
    if (rows === 0) return;
    const norm: Float32Array[] = [];
    for (let i = 0; i < rows; i++) {
      const v =
        vectors instanceof Float32Array
          ? vectors.subarray(i * this.dim, (i + 1) * this.dim)
          : (vectors[i] as ArrayLike<number>);
      norm.push(normalized(v, `vector ${i}`));
    }
    const replaced: EmbeddedResource[] = [];
    for (let i = 0; i < rows; i++) {
      const old = this.vectors.get(ids[i]!);
      if (old) replaced.push(item(ids[i]!, old));
    }
    if (replaced.length) voy.remove({ embeddings: replaced });
    const embeddings = norm.map((v, i) => item(ids[i]!, v));
    // An empty voy builds its tree in bulk with index(); add() inserts one by one.
    if (this.vectors.size === replaced.length) voy.index({ embeddings });
    else voy.add({ embeddings });
    for (let i = 0; i < rows; i++) this.vectors.set(ids[i]!, norm[i]!);
  }

  remove(id: VectorId): boolean {
    const voy = this.live();
    const v = this.vectors.get(id);
    if (!v) return false;
    voy.remove({ embeddings: [item(id, v)] });
    this.vectors.delete(id);
    return true;
  }

  search(query: ArrayLike<number>, k: number): SearchHit[] {
    const voy = this.live();
    checkK(k);
    const q = normalizedQuery(query, this.dim);
    const kk = Math.min(k, this.vectors.size);
    if (kk === 0) return [];
    const { neighbors } = voy.search(q, kk);
    const hits: SearchHit[] = [];
    for (const nb of neighbors) {
      const id = Number(nb.id);
      const v = this.vectors.get(id);
      if (!v) continue;
      let s = 0;
      for (let j = 0; j < this.dim; j++) s += q[j]! * v[j]!;
      hits.push({ id, score: s });
    }
    return hits.sort(byScore);
  }

  /** voy's own serialised form (JSON), for measuring it; `serialize()` wraps this. */
  voyJson(): string {
    const voy = this.live();
    try {
      return voy.serialize();
    } catch (e) {
      // Past ~65k vectors the JSON exceeds V8's maximum string length.
      throw new SysError(
        'E2BIG',
        `voy cannot serialize ${this.size} vectors: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  serialize(): Uint8Array {
    const json = new TextEncoder().encode(this.voyJson());
    const count = this.vectors.size;
    const vecAt = HEADER_BYTES + count * 4;
    const jsonAt = vecAt + count * this.dim * 4;
    const out = new Uint8Array(jsonAt + json.length);
    writeHeader(out, 'voy', this.dim, count, json.length);
    const ids = new Uint32Array(count);
    const flat = new Float32Array(count * this.dim);
    let i = 0;
    for (const [id, v] of this.vectors) {
      ids[i] = id;
      flat.set(v, i++ * this.dim);
    }
    out.set(new Uint8Array(ids.buffer), HEADER_BYTES);
    out.set(new Uint8Array(flat.buffer), vecAt);
    out.set(json, jsonAt);
    return out;
  }

  dispose(): void {
    this.voy?.free();
    this.voy = undefined;
    this.vectors.clear();
  }

  private live(): Voy {
    if (!this.voy) throw new SysError('EINVAL', 'vector index has been disposed');
    return this.voy;
  }
}
