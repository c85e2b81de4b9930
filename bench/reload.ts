/**
 * A returning user: the state a real reload must bring back (100k memories, 5,000 episodes,
 * 20 processes), written through the kernel. bench/run.mjs then times a real reload: a new
 * desktop page, navigation start → its first recall answered (bench/reload-recall.js).
 */
import type { KernelClient } from '../src/shell/kernel-client';

const DIM = 384;

export interface Populated {
  memories: number;
  episodes: number;
  procs: number;
  ms: number;
}

/** 100k memories in 5,000 remember() calls of 20 (each call logs one episode), and 20 parked agents. */
export async function populate(
  k: KernelClient,
  memories = 100_000,
  calls = 5000,
  procs = 20,
): Promise<Populated> {
  const t0 = performance.now();
  let seed = 11;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff - 0.5;
  };
  const per = Math.ceil(memories / calls);
  let next = 0;
  const lane = async () => {
    while (next < calls) {
      const c = next++;
      const items = Array.from({ length: per }, (_, i) => {
        const v = new Float32Array(DIM);
        for (let j = 0; j < DIM; j++) v[j] = rnd();
        return { text: `note ${c * per + i} about topic ${c % 97}`, namespace: 'bench-reload', vector: v };
      });
      await k.call('memory.remember', { items });
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  for (let i = 0; i < procs; i++)
    await k.spawn(`resident ${i}`, undefined, { source: 'export default () => new Promise(() => {})' });
  return { memories: per * calls, episodes: calls, procs, ms: performance.now() - t0 };
}
