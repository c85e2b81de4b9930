/**
 * Deterministic synthetic embeddings for tests and benchmarks: gaussian clusters around
 * random unit centroids, normalised — the shape of real sentence embeddings (topics), so
 * neighbours are close but not trivially separable. Plus exact search, the recall oracle.
 */

/** mulberry32: tiny, fast, seedable. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples drawn from `rand` (Box–Muller, both of each pair used). */
function gaussian(rand: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    // 1 - rand() keeps log() away from 0.
    const r = Math.sqrt(-2 * Math.log(1 - rand()));
    const t = 2 * Math.PI * rand();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}

export interface ClusteredOptions {
  dim: number;
  clusters: number;
  /** Noise norm relative to the unit centroid; 1 → neighbours within a topic at cos ≈ 0.5. */
  spread: number;
  seed: number;
}

export class ClusteredData {
  private readonly rand: () => number;
  private readonly gauss: () => number;
  private readonly centroids: Float32Array;

  constructor(readonly opts: ClusteredOptions) {
    this.rand = prng(opts.seed);
    this.gauss = gaussian(this.rand);
    this.centroids = new Float32Array(opts.clusters * opts.dim);
    for (let c = 0; c < opts.clusters; c++) {
      const v = this.centroids.subarray(c * opts.dim, (c + 1) * opts.dim);
      for (let j = 0; j < opts.dim; j++) v[j] = this.gauss();
      normalizeInPlace(v);
    }
  }

  /** `n` packed normalised vectors (n × dim). */
  sample(n: number): Float32Array {
    const { dim, clusters, spread } = this.opts;
    const out = new Float32Array(n * dim);
    const sigma = spread / Math.sqrt(dim);
    for (let i = 0; i < n; i++) {
      const c = Math.floor(this.rand() * clusters);
      const v = out.subarray(i * dim, (i + 1) * dim);
      for (let j = 0; j < dim; j++) v[j] = this.centroids[c * dim + j]! + sigma * this.gauss();
      normalizeInPlace(v);
    }
    return out;
  }
}

export interface LowRankOptions {
  dim: number;
  /** Intrinsic dimension: vectors live near a random `rank`-dimensional subspace. */
  rank: number;
  seed: number;
  /** Isotropic noise norm off the subspace (default 0.1). */
  noise?: number;
}

/**
 * Vectors of low intrinsic dimension, as real text embeddings are (their spectrum decays fast
 * and they share a common direction): a shared mean, plus a gaussian latent of `rank` dims
 * with a decaying spectrum mapped through a random basis, plus small noise; normalised. No
 * clusters to separate, neighbours very close: harder for quantisation and for partitioning.
 */
export class LowRankData {
  private readonly gauss: () => number;
  private readonly basis: Float32Array;
  private readonly mean: Float32Array;

  constructor(readonly opts: LowRankOptions) {
    this.gauss = gaussian(prng(opts.seed));
    const { dim, rank } = opts;
    this.basis = new Float32Array(rank * dim);
    for (let r = 0; r < rank; r++) {
      const v = this.basis.subarray(r * dim, (r + 1) * dim);
      for (let j = 0; j < dim; j++) v[j] = this.gauss();
      normalizeInPlace(v);
      // Decaying spectrum: the first latent directions carry most of the variance.
      const w = 1 / Math.sqrt(1 + r);
      for (let j = 0; j < dim; j++) v[j]! *= w;
    }
    this.mean = new Float32Array(dim);
    for (let j = 0; j < dim; j++) this.mean[j] = this.gauss();
    normalizeInPlace(this.mean);
  }

  sample(n: number): Float32Array {
    const { dim, rank } = this.opts;
    const noise = (this.opts.noise ?? 0.1) / Math.sqrt(dim);
    const out = new Float32Array(n * dim);
    const z = new Float32Array(rank);
    for (let i = 0; i < n; i++) {
      const v = out.subarray(i * dim, (i + 1) * dim);
      for (let r = 0; r < rank; r++) z[r] = this.gauss();
      for (let j = 0; j < dim; j++) v[j] = 0.6 * this.mean[j]! + noise * this.gauss();
      for (let r = 0; r < rank; r++) {
        const zr = (z[r]! / Math.sqrt(rank)) * 1.5;
        const b = r * dim;
        for (let j = 0; j < dim; j++) v[j]! += zr * this.basis[b + j]!;
      }
      normalizeInPlace(v);
    }
    return out;
  }
}

export function normalizeInPlace(v: Float32Array): void {
  let ss = 0;
  for (let j = 0; j < v.length; j++) ss += v[j]! * v[j]!;
  const inv = 1 / Math.sqrt(ss);
  for (let j = 0; j < v.length; j++) v[j]! *= inv;
}

/**
 * Exact top-k by dot product over packed normalised vectors (row index = position).
 * Keeps a small sorted buffer; fine for oracle use, not meant to be fast.
 */
export function exactTopK(data: Float32Array, dim: number, query: Float32Array, k: number): number[] {
  const n = data.length / dim;
  const best: { i: number; s: number }[] = [];
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * dim;
    for (let j = 0; j < dim; j++) s += data[o + j]! * query[j]!;
    if (best.length < k || s > best[best.length - 1]!.s) {
      let p = best.length < k ? best.length : k - 1;
      if (best.length < k) best.push({ i, s });
      while (p > 0 && best[p - 1]!.s < s) {
        best[p] = best[p - 1]!;
        p--;
      }
      best[p] = { i, s };
    }
  }
  return best.map((b) => b.i);
}

/** |found ∩ truth| / |truth|. */
export function recallAt(found: readonly number[], truth: readonly number[]): number {
  if (truth.length === 0) return 1;
  const t = new Set(truth);
  let hit = 0;
  for (const id of found) if (t.has(id)) hit++;
  return hit / truth.length;
}
