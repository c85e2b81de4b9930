/**
 * IVF training runs in time slices on the thread that owns the index. In Node the kernel of the
 * harness shares this thread (one event loop), as the index shares the kernel's SharedWorker in
 * the OS: a syscall must be answered while a ~50k-vector index trains, and the index must stay
 * correct for adds, removes and queries made between the slices.
 */
import { describe, expect, it } from 'vitest';
import { FlatI8Index } from '../../src/memory/vector/flat-index';
import { IvfI8Index } from '../../src/memory/vector/ivf-index';
import { ClusteredData } from '../../src/memory/vector/synthetic';
import { boot } from './harness';

const DIM = 384;
const ids = (n: number, from = 0) => Uint32Array.from({ length: n }, (_, i) => from + i);
const row = (data: Float32Array, i: number) => data.subarray(i * DIM, (i + 1) * DIM);

describe('IVF training in time slices', () => {
  it('lets the kernel answer syscalls while an index of 50k vectors trains', async () => {
    const h = await boot({});
    const data = new ClusteredData({ dim: DIM, clusters: 200, spread: 1, seed: 21 }).sample(50_000);
    const index = await IvfI8Index.create(DIM, { seed: 3 });
    const order: string[] = [];
    index.add(ids(50_000), data);
    expect(index.isTraining).toBe(true);
    const trained = index.idle().then(() => order.push('trained'));
    // Three syscalls in turn, each awaited: each needs the kernel's thread between two slices.
    for (let i = 0; i < 3; i++) {
      expect(await h.user.call('getpid')).toMatchObject({ pid: 0 });
      order.push(`getpid ${i}`);
    }
    // A query between slices is answered too, from the layout before training (exact: a flat scan).
    const hit = index.search(row(data, 123), 1)[0]!;
    expect(hit.id).toBe(123);
    order.push('query');
    await trained;
    expect(order).toEqual(['getpid 0', 'getpid 1', 'getpid 2', 'query', 'trained']);
    expect(index.lists).toBeGreaterThan(100);
    expect(index.isTraining).toBe(false);
    index.dispose();
    h.close();
  }, 120_000);

  it('keeps adds, replacements and removes made during training, and files them after the swap', async () => {
    const gen = new ClusteredData({ dim: DIM, clusters: 40, spread: 1, seed: 8 });
    const data = gen.sample(4000);
    const index = await IvfI8Index.create(DIM, { trainAt: 2000, seed: 6 });
    const flat = await FlatI8Index.create(DIM);
    index.add(ids(2000), data.subarray(0, 2000 * DIM));
    flat.add(ids(2000), data.subarray(0, 2000 * DIM));
    expect(index.isTraining).toBe(true);
    // While it trains: queries are the exact flat scan's answers; then change rows between slices.
    for (let q = 0; q < 5; q++)
      expect(index.search(row(data, 3000 + q), 10)).toEqual(flat.search(row(data, 3000 + q), 10));
    let b = 2000;
    for (let r = 0; index.isTraining && b < 4000; r++) {
      index.add(ids(100, b), data.subarray(b * DIM, (b + 100) * DIM));
      expect(index.remove(2 * r)).toBe(true); // an old row
      index.add([2 * r + 1], row(data, b + 50)); // an old id, given a new vector
      b += 100;
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(b).toBeGreaterThan(2000); // at least one round ran during training
    await index.idle();
    expect(index.lists).toBeGreaterThan(0);
    const rounds = (b - 2000) / 100;
    expect(index.size).toBe(2000 + rounds * 100 - rounds);
    index.nprobe = index.lists;
    for (let r = 0; r < rounds; r++) {
      const at = 2000 + r * 100;
      expect(index.has(2 * r)).toBe(false);
      expect(index.search(row(data, at + 50), 2).map((h) => h.id)).toContain(2 * r + 1);
      expect(index.search(row(data, at + 7), 1)[0]!.id).toBe(at + 7);
    }
  });

  it('stops a training cleanly when the index is disposed mid-way', async () => {
    const data = new ClusteredData({ dim: DIM, clusters: 20, spread: 1, seed: 4 }).sample(3000);
    const index = await IvfI8Index.create(DIM, { trainAt: 2000 });
    index.add(ids(3000), data);
    expect(index.isTraining).toBe(true);
    index.dispose();
    await index.idle();
    expect(index.isTraining).toBe(false);
    expect(() => index.search(row(data, 0), 1)).toThrow(/disposed/);
  });
});
