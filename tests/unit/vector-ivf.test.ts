import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import { FlatI8Index } from '../../src/memory/vector/flat-index';
import { loadVectorIndex } from '../../src/memory/vector/index';
import { IvfI8Index } from '../../src/memory/vector/ivf-index';
import { ClusteredData, exactTopK, LowRankData, recallAt } from '../../src/memory/vector/synthetic';

const DIM = 384;
const ids = (n: number, from = 0) => Uint32Array.from({ length: n }, (_, i) => from + i);
const row = (data: Float32Array, i: number) => data.subarray(i * DIM, (i + 1) * DIM);

async function rejectionOf(p: Promise<unknown>): Promise<SysError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SysError) return e;
    throw e;
  }
  throw new Error('expected a SysError, the promise resolved');
}

function meanRecall(index: IvfI8Index, data: Float32Array, queries: Float32Array, nq: number): number {
  let recall = 0;
  for (let qi = 0; qi < nq; qi++) {
    const q = row(queries, qi);
    recall += recallAt(
      index.search(q, 10).map((h) => h.id),
      exactTopK(data, DIM, q, 10),
    );
  }
  return recall / nq;
}

describe('IvfI8Index', () => {
  const gen = new ClusteredData({ dim: DIM, clusters: 60, spread: 1, seed: 3 });
  const data = gen.sample(6000);
  const queries = gen.sample(40);

  it('is an exact int8 flat scan below its training size (same answers as FlatI8Index)', async () => {
    const ivf = await IvfI8Index.create(DIM, { trainAt: 10_000 });
    const flat = await FlatI8Index.create(DIM);
    ivf.add(ids(3000), data.subarray(0, 3000 * DIM));
    flat.add(ids(3000), data.subarray(0, 3000 * DIM));
    expect(ivf.lists).toBe(0);
    for (let qi = 0; qi < 10; qi++)
      expect(ivf.search(row(queries, qi), 10)).toEqual(flat.search(row(queries, qi), 10));
  });

  it('trains past trainAt and keeps recall@10 ≥ 0.9 against exact float search (fixed seed)', async () => {
    const index = await IvfI8Index.create(DIM, { trainAt: 2000, seed: 5 });
    index.add(ids(6000), data);
    await index.idle();
    expect(index.lists).toBeGreaterThan(16);
    expect(index.nprobe).toBeLessThan(index.lists);
    expect(index.size).toBe(6000);
    expect(meanRecall(index, data, queries, 40)).toBeGreaterThanOrEqual(0.9);
    // Probing every list is the exact int8 scan again.
    index.nprobe = index.lists;
    expect(meanRecall(index, data, queries, 40)).toBeGreaterThanOrEqual(0.95);
  });

  it('keeps recall on low-intrinsic-dimension data (like text embeddings)', async () => {
    const low = new LowRankData({ dim: DIM, rank: 16, seed: 11 });
    const d = low.sample(5000);
    const q = low.sample(30);
    const index = await IvfI8Index.create(DIM, { trainAt: 1000, seed: 2 });
    index.add(ids(5000), d);
    await index.idle();
    expect(index.lists).toBeGreaterThan(0);
    expect(meanRecall(index, d, q, 30)).toBeGreaterThanOrEqual(0.85);
  });

  it('adds in small batches across training, replaces and removes, and finds every live row', async () => {
    const index = await IvfI8Index.create(DIM, { trainAt: 1000, seed: 9 });
    for (let b = 0; b < 30; b++)
      index.add(ids(100, b * 100), data.subarray(b * 100 * DIM, (b + 1) * 100 * DIM));
    await index.idle();
    expect(index.size).toBe(3000);
    expect(index.lists).toBeGreaterThan(0);
    for (let id = 0; id < 3000; id += 4) expect(index.remove(id)).toBe(true);
    expect(index.remove(0)).toBe(false);
    expect(index.size).toBe(3000 - 750);
    // Replace id 1 with another row's vector: it is found there now.
    index.add([1], row(data, 5000));
    expect(index.size).toBe(2250);
    expect(index.search(row(data, 5000), 1)[0]!.id).toBe(1);
    index.nprobe = index.lists;
    for (let id = 2; id < 3000; id += 37)
      if (id % 4 !== 0) expect(index.search(row(data, id), 1)[0]!.id).toBe(id);
    for (let id = 0; id < 3000; id += 4) expect(index.has(id)).toBe(false);
  });

  it('survives a serialize/load round trip with identical answers, through loadVectorIndex', async () => {
    for (const trainAt of [1000, 100_000]) {
      const index = await IvfI8Index.create(DIM, { trainAt, seed: 4 });
      index.add(ids(4000, 10), data.subarray(0, 4000 * DIM));
      await index.idle();
      index.remove(17);
      const bytes = index.serialize();
      const back = await loadVectorIndex(bytes);
      expect(back.kind).toBe('ivf-i8');
      expect(back.size).toBe(3999);
      for (let qi = 0; qi < 10; qi++)
        expect(back.search(row(queries, qi), 10)).toEqual(index.search(row(queries, qi), 10));
      expect(back.has(17)).toBe(false);
      // And the loaded index still takes adds.
      back.add([99_999], row(data, 4500));
      expect(back.search(row(data, 4500), 1)[0]!.id).toBe(99_999);
    }
  });

  it('refuses corrupt bytes and bad options with EINVAL', async () => {
    const index = await IvfI8Index.create(DIM, { trainAt: 500 });
    index.add(ids(800), data.subarray(0, 800 * DIM));
    await index.idle();
    const bytes = index.serialize();
    expect((await rejectionOf(IvfI8Index.load(bytes.subarray(0, bytes.length - 1)))).code).toBe('EINVAL');
    const bad = bytes.slice();
    new DataView(bad.buffer).setUint32(16, 1_000_000, true);
    expect((await rejectionOf(IvfI8Index.load(bad))).code).toBe('EINVAL');
    expect((await rejectionOf(IvfI8Index.create(DIM, { trainAt: 3 }))).code).toBe('EINVAL');
    expect(() => {
      index.nprobe = 0;
    }).toThrow(SysError);
  });
});
