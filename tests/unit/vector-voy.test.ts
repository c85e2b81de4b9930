import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import { loadVectorIndex } from '../../src/memory/vector/index';
import { ClusteredData, exactTopK, recallAt } from '../../src/memory/vector/synthetic';
import { initVoy, VoyIndex } from '../../src/memory/vector/voy-index';

const DIM = 64;
const require = createRequire(import.meta.url);

describe('VoyIndex (voy-search adapter)', () => {
  // Node cannot fetch vite's asset URL; hand voy its wasm bytes once, as the page would fetch them.
  beforeAll(() => initVoy(readFileSync(require.resolve('voy-search/voy_search_bg.wasm'))));

  const gen = new ClusteredData({ dim: DIM, clusters: 10, spread: 1, seed: 3 });
  const data = gen.sample(400);
  const queries = gen.sample(20);
  const ids = Uint32Array.from({ length: 400 }, (_, i) => i);

  it('agrees with exact search on a small set', async () => {
    const index = await VoyIndex.create(DIM);
    index.add(ids, data);
    expect(index.size).toBe(400);
    let recall = 0;
    for (let qi = 0; qi < 20; qi++) {
      const q = queries.subarray(qi * DIM, (qi + 1) * DIM);
      const hits = index.search(q, 10);
      recall += recallAt(
        hits.map((h) => h.id),
        exactTopK(data, DIM, q, 10),
      );
      // Scores are exact cosines computed from the kept originals, best first.
      for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
    }
    // A k-d tree search is exact.
    expect(recall / 20).toBe(1);
    index.dispose();
  });

  it('adds, replaces and removes incrementally', async () => {
    const index = await VoyIndex.create(DIM);
    index.add(ids.subarray(0, 200), data.subarray(0, 200 * DIM));
    index.add(ids.subarray(200), data.subarray(200 * DIM));
    expect(index.size).toBe(400);
    expect(index.remove(7)).toBe(true);
    expect(index.remove(7)).toBe(false);
    expect(index.size).toBe(399);
    expect(index.search(data.subarray(7 * DIM, 8 * DIM), 5).map((h) => h.id)).not.toContain(7);
    index.add([9], data.subarray(300 * DIM, 301 * DIM));
    expect(index.size).toBe(399);
    expect(
      index
        .search(data.subarray(300 * DIM, 301 * DIM), 2)
        .map((h) => h.id)
        .sort(),
    ).toEqual([300, 9].sort());
  });

  it('round-trips through serialize/load', async () => {
    const index = await VoyIndex.create(DIM);
    index.add(ids, data);
    index.remove(3);
    const copy = await loadVectorIndex(index.serialize());
    expect(copy.kind).toBe('voy');
    expect(copy.size).toBe(399);
    const q = queries.subarray(0, DIM);
    expect(copy.search(q, 10)).toEqual(index.search(q, 10));
    expect(copy.remove(4)).toBe(true);
  });

  it('refuses what voy cannot do with EINVAL', async () => {
    await expect(VoyIndex.create(1024)).rejects.toThrow(SysError);
    await expect(VoyIndex.create(1024)).rejects.toThrow('at most 768');
    const index = await VoyIndex.create(DIM);
    expect(() => index.search(new Float32Array(DIM - 1).fill(1), 3)).toThrow(
      `query has ${DIM - 1} dimensions, index expects ${DIM}`,
    );
    expect(() => index.add([1], [new Float32Array(DIM)])).toThrow('zero vector');
    expect(index.search(new Float32Array(DIM).fill(1), 3)).toEqual([]);
  });
});
