import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import { FlatI8Index } from '../../src/memory/vector/flat-index';
import { createVectorIndex, loadVectorIndex } from '../../src/memory/vector/index';
import { ClusteredData, exactTopK, recallAt } from '../../src/memory/vector/synthetic';

const DIM = 384;

function errOf(f: () => unknown): SysError {
  try {
    f();
  } catch (e) {
    if (e instanceof SysError) return e;
    throw e;
  }
  throw new Error('expected a SysError, nothing was thrown');
}

async function rejectionOf(p: Promise<unknown>): Promise<SysError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SysError) return e;
    throw e;
  }
  throw new Error('expected a SysError, the promise resolved');
}

const ids = (n: number, from = 0) => Uint32Array.from({ length: n }, (_, i) => from + i);

describe('FlatI8Index', () => {
  const gen = new ClusteredData({ dim: DIM, clusters: 50, spread: 1, seed: 1 });
  const data = gen.sample(5000);
  const queries = gen.sample(50);

  it('finds nearly the same top-10 as exact float search (recall ≥ 0.95)', async () => {
    const index = await FlatI8Index.create(DIM);
    index.add(ids(5000), data);
    expect(index.size).toBe(5000);
    let recall = 0;
    for (let qi = 0; qi < 50; qi++) {
      const q = queries.subarray(qi * DIM, (qi + 1) * DIM);
      const hits = index.search(q, 10);
      expect(hits).toHaveLength(10);
      for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
      recall += recallAt(
        hits.map((h) => h.id),
        exactTopK(data, DIM, q, 10),
      );
    }
    expect(recall / 50).toBeGreaterThanOrEqual(0.95);
  });

  it('returns an approximately exact cosine score and finds a stored vector as its own best match', async () => {
    const index = await FlatI8Index.create(DIM);
    index.add(ids(5000), data);
    const v = data.subarray(42 * DIM, 43 * DIM);
    const [top] = index.search(v, 1);
    expect(top!.id).toBe(42);
    expect(top!.score).toBeCloseTo(1, 2);
    // Scores are the cosine of the un-normalised query too.
    const scaled = v.map((x) => x * 7);
    expect(index.search(scaled, 1)[0]!.id).toBe(42);
  });

  it('adds and removes without a rebuild, keeping every other row reachable', async () => {
    const index = await FlatI8Index.create(DIM, { capacity: 8 });
    // Many small batches exercise growth (capacity 8 → thousands).
    for (let b = 0; b < 20; b++)
      index.add(ids(100, b * 100), data.subarray(b * 100 * DIM, (b + 1) * 100 * DIM));
    expect(index.size).toBe(2000);
    for (let id = 0; id < 2000; id += 3) expect(index.remove(id)).toBe(true);
    expect(index.remove(0)).toBe(false);
    expect(index.remove(123_456)).toBe(false);
    expect(index.size).toBe(2000 - 667);
    for (let id = 0; id < 2000; id++) {
      expect(index.has(id)).toBe(id % 3 !== 0);
      if (id % 97 === 1 && id % 3 !== 0)
        expect(index.search(data.subarray(id * DIM, (id + 1) * DIM), 1)[0]!.id).toBe(id);
    }
    // A removed vector never comes back in results.
    const hits = index.search(data.subarray(3 * DIM, 4 * DIM), 50);
    expect(hits.some((h) => h.id % 3 === 0)).toBe(false);
  });

  it('replaces a vector when an id is added again', async () => {
    const index = await FlatI8Index.create(DIM);
    index.add(ids(1000), data.subarray(0, 1000 * DIM));
    // id 5 now gets row 900's vector, in a batch together with new ids.
    index.add(
      [5, 2000, 2001],
      [data.subarray(900 * DIM, 901 * DIM), data.subarray(0, DIM), data.subarray(DIM, 2 * DIM)],
    );
    expect(index.size).toBe(1002);
    const top = index.search(data.subarray(900 * DIM, 901 * DIM), 2).map((h) => h.id);
    expect(top.sort()).toEqual([5, 900]);
    expect(index.search(data.subarray(5 * DIM, 6 * DIM), 1)[0]!.id).not.toBe(5);
  });

  it('serializes to a compact binary form and loads back identically', async () => {
    const index = await FlatI8Index.create(DIM);
    index.add(ids(3000, 10), data.subarray(0, 3000 * DIM));
    index.remove(11);
    const bytes = index.serialize();
    expect(bytes.length).toBe(24 + 2999 * (4 + 4 + DIM));
    // Loading from an unaligned offset must work (bytes may be a view into a larger buffer).
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    const copy = await loadVectorIndex(padded.subarray(3));
    expect(copy.kind).toBe('flat-i8');
    expect(copy.size).toBe(2999);
    expect(copy.has(11)).toBe(false);
    for (let qi = 0; qi < 10; qi++) {
      const q = queries.subarray(qi * DIM, (qi + 1) * DIM);
      expect(copy.search(q, 10)).toEqual(index.search(q, 10));
    }
    // The loaded index keeps working incrementally.
    copy.add([11], data.subarray(DIM, 2 * DIM));
    expect(copy.search(data.subarray(DIM, 2 * DIM), 1)[0]!.id).toBe(11);
  });

  it('handles dimensions that are not a multiple of the SIMD step', async () => {
    const g = new ClusteredData({ dim: 37, clusters: 5, spread: 1, seed: 9 });
    const d = g.sample(300);
    const index = await createVectorIndex(37);
    index.add(ids(300), d);
    for (const i of [0, 17, 299]) expect(index.search(d.subarray(i * 37, (i + 1) * 37), 1)[0]!.id).toBe(i);
    const copy = await loadVectorIndex(index.serialize());
    expect(copy.search(d.subarray(17 * 37, 18 * 37), 3)).toEqual(
      index.search(d.subarray(17 * 37, 18 * 37), 3),
    );
  });

  it('answers small k, k > size and empty indexes sensibly', async () => {
    const index = await FlatI8Index.create(4);
    expect(index.search([1, 0, 0, 0], 5)).toEqual([]);
    index.add(
      [7, 8],
      [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
      ],
    );
    expect(index.search([1, 0, 0, 0], 0)).toEqual([]);
    const hits = index.search([1, 0.1, 0, 0], 10);
    expect(hits.map((h) => h.id)).toEqual([7, 8]);
    expect(hits[0]!.score).toBeCloseTo(0.995, 2);
  });

  it('rejects bad input with clear EINVAL errors and leaves the index unchanged', async () => {
    const index = await FlatI8Index.create(DIM);
    index.add(ids(10), data.subarray(0, 10 * DIM));
    const short = new Float32Array(383).fill(0.1);

    let e = errOf(() => index.search(short, 10));
    expect(e.code).toBe('EINVAL');
    expect(e.message).toBe('EINVAL: query has 383 dimensions, index expects 384');

    e = errOf(() => index.add([100], [short]));
    expect(e.code).toBe('EINVAL');
    expect(e.message).toContain('vector 0 has 383 dimensions, index expects 384');

    expect(errOf(() => index.add([100, 101], new Float32Array(DIM))).message).toContain('expected 2 ids');
    expect(errOf(() => index.add([1.5], new Float32Array(DIM).fill(1))).message).toContain('id must be');
    expect(errOf(() => index.add([-1], new Float32Array(DIM).fill(1))).code).toBe('EINVAL');
    expect(errOf(() => index.add([3, 3], new Float32Array(2 * DIM).fill(1))).message).toContain('twice');
    expect(errOf(() => index.search(new Float32Array(DIM), 10)).message).toContain('zero vector');
    expect(errOf(() => index.search(new Float32Array(DIM).fill(Number.NaN), 10)).message).toContain('NaN');
    expect(errOf(() => index.search(data.subarray(0, DIM), -1)).code).toBe('EINVAL');
    expect(errOf(() => index.search(data.subarray(0, DIM), 2.5)).code).toBe('EINVAL');

    // A bad vector in the middle of a batch: nothing from the batch is committed.
    const batch = data.slice(0, 600 * DIM);
    batch[300 * DIM + 7] = Number.POSITIVE_INFINITY;
    e = errOf(() => index.add(ids(600, 1000), batch));
    expect(e.message).toContain('vector 300');
    batch.fill(0, 400 * DIM, 401 * DIM);
    batch[300 * DIM + 7] = 0;
    expect(errOf(() => index.add(ids(600, 1000), batch)).message).toContain('vector 400 is the zero vector');
    expect(index.size).toBe(10);
    expect(index.has(1000)).toBe(false);
    expect(index.search(data.subarray(0, DIM), 1)[0]!.id).toBe(0);

    expect((await rejectionOf(FlatI8Index.create(0))).code).toBe('EINVAL');
    expect((await rejectionOf(FlatI8Index.create(5000))).code).toBe('EINVAL');

    index.dispose();
    expect(errOf(() => index.search(data.subarray(0, DIM), 1)).message).toContain('disposed');
  });

  it('refuses corrupt serialized bytes with EINVAL', async () => {
    const index = await FlatI8Index.create(8);
    index.add(
      [1, 2],
      [
        [1, 2, 3, 4, 5, 6, 7, 8],
        [8, 7, 6, 5, 4, 3, 2, 1],
      ],
    );
    const good = index.serialize();
    // Overwrites bytes at `at` in a copy of the good form.
    const patch = (at: number, bytes: number[]) => {
      const b = good.slice();
      b.set(bytes, at);
      return b;
    };
    const bad = async (corrupt: Uint8Array, msg: string) => {
      const e = await rejectionOf(loadVectorIndex(corrupt));
      expect(e.code).toBe('EINVAL');
      expect(e.message).toContain(msg);
    };
    await bad(good.slice(0, 10), 'shorter than its header');
    await bad(patch(0, [0]), 'bad magic');
    await bad(patch(4, [9]), 'format version 9');
    await bad(patch(6, [77]), 'unknown kind');
    await bad(good.slice(0, -1), 'header says');
    await bad(patch(12, [3]), 'header says');
    await bad(patch(28, [1, 0, 0, 0]), 'repeats id 1');
    await bad(patch(32, [0, 0, 0xc0, 0x7f]), 'bad scale');
    await expect(loadVectorIndex(good)).resolves.toBeDefined();
  });
});
