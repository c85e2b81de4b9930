/** Long-term memory benchmark: acknowledged writes per second through the kernel, with precomputed vectors. */
import type { KernelClient } from '../src/shell/kernel-client';
import type { BenchResults } from './types';

export async function ltmWrites(k: KernelClient): Promise<BenchResults> {
  const dim = 384;
  const BATCH = 500;
  const BATCHES = 20;
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff - 0.5;
  };
  const make = (i: number) => {
    const v = new Float32Array(dim);
    for (let j = 0; j < dim; j++) v[j] = rnd();
    return { text: `bench memory ${i}`, namespace: 'bench', vector: v };
  };
  const batches = Array.from({ length: BATCHES }, (_, b) =>
    Array.from({ length: BATCH }, (_, i) => make(b * BATCH + i)),
  );
  // Warm the store (opens IndexedDB, builds indexes) outside the timing.
  await k.call('memory.remember', { items: [make(-1)] });
  const t0 = performance.now();
  for (const items of batches) await k.call('memory.remember', { items });
  const s = (performance.now() - t0) / 1000;
  // Baseline: the same records put straight into an IndexedDB store of this page, one transaction a batch.
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(`bench-raw-${Date.now()}`, 1);
    req.onupgradeneeded = () => req.result.createObjectStore('s', { autoIncrement: true });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const t1 = performance.now();
  for (const items of batches) {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('s', 'readwrite', { durability: 'strict' });
      for (const it of items) tx.objectStore('s').add({ text: it.text, vector: it.vector.buffer });
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }
  const rawS = (performance.now() - t1) / 1000;
  db.close();
  const n = BATCH * BATCHES;
  return {
    ltm_write_ratio: {
      value: s > 0 ? rawS / s : 0,
      unit: 'x',
      baseline: n / rawS,
      goal: '>= 0.8',
      note: `acknowledged remember() writes/s through the kernel (${Math.round(n / s)}/s) ÷ raw IndexedDB batched puts of the same ${n} records from the page, one strict-durability transaction per ${BATCH}-record batch (baseline, writes/s), same run`,
    },
    ltm_write_per_s: {
      value: n / s,
      unit: 'writes/s',
      baseline: n / rawS,
      note: `informative (absolute, swings with machine load; see ltm_write_ratio): remember() through the kernel, ${BATCHES} batches of ${BATCH} with precomputed 384-d vectors, each acknowledged after commit (durability strict), indexed in the WASM index; baseline: raw IndexedDB puts of the same records from the page`,
    },
  };
}
