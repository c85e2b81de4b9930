/** The bench page: runs every benchmark in this browser and hands the results to bench/run.mjs. */
import { KernelClient } from '../src/shell/kernel-client';
import { agentsAlive, spawnLatency, syscallRtt } from './kernel';
import { ltmWrites } from './memory';
import { schedulerPolicies, streamOverhead, tinyModel } from './models';
import { realModel } from './real-model';
import { type Populated, populate } from './reload';
import { attackBench, busBench, floodBench } from './security';
import type { BenchResults } from './types';
import { vectorBench } from './vector';

declare global {
  interface Window {
    runBench(only?: string[]): Promise<BenchResults>;
    /** Markdown table of the vector peers, set by the `peers` suite. */
    peerTable?: string;
    populate(memories?: number, calls?: number, procs?: number): Promise<Populated>;
  }
}

const logEl = document.getElementById('log')!;
const log = (s: string) => {
  logEl.textContent += `${s}\n`;
  console.log(`[bench] ${s}`);
};

const SUITES: Record<string, (k: KernelClient) => Promise<BenchResults>> = {
  rtt: syscallRtt,
  spawn: spawnLatency,
  alive: (k) => agentsAlive(k, log),
  stream: streamOverhead,
  sched: schedulerPolicies,
  tiny: tinyModel,
  real: realModel,
  bus: busBench,
  attacks: (k) => attackBench(k, log),
  flood: (k) => floodBench(k, log),
  ltm: ltmWrites,
  vector: () => vectorBench(log),
  // Loaded on use: the peers' libraries (hnswlib-wasm has a top-level await) must not delay
  // this page's other work.
  peers: async () => {
    const { peerTable, vectorPeers } = await import('./vector-peers');
    const { rows, dnf, results } = await vectorPeers(log);
    window.peerTable = peerTable(rows, dnf);
    return results;
  },
  vec1m: async () => (await import('./vector-peers')).vector1m(log),
};

window.populate = async (memories, calls, procs) =>
  populate(await KernelClient.connect({ mode: 'shared' }), memories, calls, procs);

window.runBench = async (only) => {
  // `?hosting=worker`: agents in plain workers, to measure what sandboxed frames cost (spawn_frame_ratio).
  const hosting = new URLSearchParams(location.search).get('hosting') === 'worker' ? 'worker' : 'frame';
  const k = await KernelClient.connect({ mode: 'shared', hosting });
  const results: BenchResults = {};
  for (const [name, run] of Object.entries(SUITES)) {
    if (only?.length && !only.includes(name)) continue;
    log(`running ${name}…`);
    try {
      Object.assign(results, await run(k));
    } catch (e) {
      // wasm-bindgen libraries throw plain objects: make them readable in run.mjs.
      throw new Error(`suite ${name}: ${e instanceof Error ? (e.stack ?? e.message) : JSON.stringify(e)}`);
    }
  }
  return results;
};
