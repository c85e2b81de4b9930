/**
 * Which one chat model to recommend on this device, and why (or why none).
 * Pure: the welcome app measures the device (device.ts) and passes WebLLM's
 * prebuilt list; this picks the best model of a short, curated list that fits
 * the GPU (f16 or not, largest buffer), the memory and the free storage.
 */

import { type AdapterFacts, estimateVram } from '../../../abi/vram-estimate';

/** The fields of a WebLLM prebuilt record this reads. */
export interface ModelRecord {
  model_id: string;
  vram_required_MB?: number;
  /** WebLLM's ModelType: 0 (or absent) a chat LLM, 1 an embedding model, 2 a vision-language model. */
  model_type?: number;
  required_features?: string[];
  buffer_size_required_bytes?: number;
}

export interface DeviceFacts {
  /** `facts`: what the VRAM estimate reads (abi/vram-estimate.ts); without it, `adapter` is its description. */
  webgpu: { adapter: string; f16: boolean; maxBufferBytes: number; facts?: AdapterFacts } | null;
  /** Why there is no WebGPU, in words, when there is none. */
  webgpuProblem?: string;
  /** navigator.deviceMemory (GB, rounded down by the browser), when the browser tells. */
  deviceMemoryGB: number | null;
  /** Bytes this origin may still store, when the browser tells. */
  freeStorageBytes: number | null;
  /** Whether the hosts model files come from answer. */
  hostsReachable: boolean;
}

export interface Candidate {
  id: string;
  /** Download size, about. */
  downloadMB: number;
  goodFor: string;
}

/** Best first. Download sizes are WebLLM's shards, about. */
export const CANDIDATES: Candidate[] = [
  {
    id: 'Qwen2.5-3B-Instruct-q4f16_1-MLC',
    downloadMB: 1750,
    goodFor: 'everyday questions, writing and summaries, simple code, tool calls',
  },
  {
    id: 'Qwen2.5-1.5B-Instruct-q4f16_1-MLC',
    downloadMB: 880,
    goodFor: 'everyday questions, summaries and short drafts, simple tool calls',
  },
  {
    id: 'Qwen2.5-1.5B-Instruct-q4f32_1-MLC',
    downloadMB: 1000,
    goodFor: 'everyday questions, summaries and short drafts, simple tool calls',
  },
  {
    id: 'Llama-3.2-1B-Instruct-q4f16_1-MLC',
    downloadMB: 700,
    goodFor: 'quick answers and chat in English; light on memory',
  },
  {
    id: 'Llama-3.2-1B-Instruct-q4f32_1-MLC',
    downloadMB: 800,
    goodFor: 'quick answers and chat in English; light on memory',
  },
  {
    id: 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC',
    downloadMB: 280,
    goodFor: 'short answers and rewording; small and fast, weak at reasoning',
  },
  {
    id: 'Qwen2.5-0.5B-Instruct-q4f32_1-MLC',
    downloadMB: 320,
    goodFor: 'short answers and rewording; small and fast, weak at reasoning',
  },
  {
    id: 'SmolLM2-360M-Instruct-q4f32_1-MLC',
    downloadMB: 270,
    goodFor: 'very short answers; the smallest real assistant, for weak devices',
  },
];

export type Recommendation =
  | { ok: true; id: string; downloadMB: number; vramMB: number; goodFor: string; note: string | null }
  | { ok: false; why: string; todo: string };

const f16Only = (r: ModelRecord) =>
  !!r.required_features?.includes('shader-f16') || /(^|[-_])q\d+f16(_|$|-)/.test(r.model_id);

/** A chat model: WebLLM lists embedding and vision models in the same list. */
export const isChatModel = (r: ModelRecord): boolean =>
  (r.model_type === undefined || r.model_type === 0) && !/embed/i.test(r.model_id);

export function recommend(facts: DeviceFacts, records: ModelRecord[]): Recommendation {
  if (!facts.webgpu)
    return {
      ok: false,
      why:
        facts.webgpuProblem ?? 'This browser gives no access to the GPU (WebGPU), which local models need.',
      todo: 'Use a recent Chrome or Edge (or enable WebGPU), connect a model server below, or continue with the built-in demo model.',
    };
  const gpu = facts.webgpu;
  // Browsers do not tell GPU memory: estimated from the adapter's class and limits and deviceMemory.
  const est = estimateVram(gpu.facts ?? { description: gpu.adapter }, facts.deviceMemoryGB);
  const vramBudgetMB = Math.round(est.bytes / 2 ** 20);
  const byId = new Map(records.filter(isChatModel).map((r) => [r.model_id, r]));
  const fitsGpu = CANDIDATES.filter((c) => {
    const r = byId.get(c.id);
    return (
      !!r &&
      (gpu.f16 || !f16Only(r)) &&
      (r.buffer_size_required_bytes === undefined || r.buffer_size_required_bytes <= gpu.maxBufferBytes) &&
      (r.vram_required_MB ?? Number.POSITIVE_INFINITY) <= vramBudgetMB
    );
  });
  if (!fitsGpu.length)
    return {
      ok: false,
      why: `None of the recommended models fits this GPU (about ${vramBudgetMB} MB of memory to spare — ${est.why}${gpu.f16 ? '' : '; no 16-bit floats'}).`,
      todo: 'Connect a model server below, or continue with the built-in demo model.',
    };
  const free = facts.freeStorageBytes;
  const fits = fitsGpu.find((c) => free === null || c.downloadMB * 2 ** 20 * 1.1 <= free);
  if (!fits) {
    const smallest = fitsGpu.at(-1)!;
    return {
      ok: false,
      why: `Not enough storage: the smallest model that fits (${smallest.id}) needs about ${smallest.downloadMB} MB, and this browser lets the OS store ${Math.floor((free ?? 0) / 2 ** 20)} MB more.`,
      todo: 'Free some disk space (or clear other sites’ data), then open this again.',
    };
  }
  const r = byId.get(fits.id)!;
  return {
    ok: true,
    id: fits.id,
    downloadMB: fits.downloadMB,
    vramMB: Math.round(r.vram_required_MB ?? 0),
    goodFor: fits.goodFor,
    note: facts.hostsReachable
      ? null
      : 'The model hosts cannot be reached now (offline?): the download needs the internet once; after that it runs offline.',
  };
}
