/** The bench page: runs every benchmark in this browser and hands the results to bench/run.mjs. */
import { KernelClient } from '../src/shell/kernel-client';
import { agentsAlive, spawnLatency, syscallRtt } from './kernel';
import { ltmWrites } from './memory';
import { schedulerPolicies, streamOverhead, tinyModel } from './models';
import { attackBench, busBench } from './security';
import type { BenchResults } from './types';
import { vectorBench } from './vector';

declare global {
  interface Window {
    runBench(only?: string[]): Promise<BenchResults>;
  }
}

const logEl = document.getElementById('log')!;
const log = (s: string) => {
  logEl.textContent += `${s}\n`;
  console.log(s);
};

const SUITES: Record<string, (k: KernelClient) => Promise<BenchResults>> = {
  rtt: syscallRtt,
  spawn: spawnLatency,
  alive: (k) => agentsAlive(k, log),
  stream: streamOverhead,
  sched: schedulerPolicies,
  tiny: tinyModel,
  bus: busBench,
  attacks: (k) => attackBench(k, log),
  ltm: ltmWrites,
  vector: () => vectorBench(log),
};

window.runBench = async (only) => {
  // `?hosting=worker`: agents in plain workers, to measure what sandboxed frames cost (spawn_frame_ratio).
  const hosting = new URLSearchParams(location.search).get('hosting') === 'worker' ? 'worker' : 'frame';
  const k = await KernelClient.connect({ mode: 'shared', hosting });
  const results: BenchResults = {};
  for (const [name, run] of Object.entries(SUITES)) {
    if (only?.length && !only.includes(name)) continue;
    log(`running ${name}…`);
    Object.assign(results, await run(k));
  }
  return results;
};
