/**
 * The VRAM estimate (abi/vram-estimate.ts): WebGPU does not report GPU memory, so the rule
 * reads the adapter's class (its info), its maxBufferSize and navigator.deviceMemory. Adapter
 * infos below are what Chromium reports for such GPUs (vendor / architecture strings).
 */
import { describe, expect, it } from 'vitest';
import { estimateVram, gpuKind } from '../../src/abi/vram-estimate';
import { fitModels, type WebLLMModelRecord } from '../../src/models/engines/webllm';
import { recommend } from '../../src/shell/apps/welcome/recommend';

const GiB = 2 ** 30;
const swiftshader = { vendor: 'google', architecture: 'swiftshader', maxBufferSize: 2 ** 28 };
const intel = { vendor: 'intel', architecture: 'gen-12lp', maxBufferSize: 2 ** 31 };
const apple = { vendor: 'apple', architecture: 'metal-3', maxBufferSize: 2 ** 32 };
const nvidia = { vendor: 'nvidia', architecture: 'ampere', maxBufferSize: 2 ** 32 };

describe('the VRAM estimate', () => {
  it('classes adapters: software, shared memory, discrete; an unnamed vendor is the cautious shared case', () => {
    expect(gpuKind(null)).toBe('none');
    expect(gpuKind(swiftshader)).toBe('software');
    expect(gpuKind({ vendor: 'nvidia', isFallbackAdapter: true })).toBe('software');
    expect(gpuKind({ vendor: 'mesa', architecture: 'llvmpipe' })).toBe('software');
    expect(gpuKind(intel)).toBe('shared-memory');
    expect(gpuKind(apple)).toBe('shared-memory');
    expect(gpuKind({ vendor: 'qualcomm', architecture: 'adreno-7xx' })).toBe('shared-memory');
    expect(gpuKind(nvidia)).toBe('discrete');
    expect(gpuKind({ vendor: 'amd', architecture: 'rdna-3' })).toBe('discrete');
    expect(gpuKind({})).toBe('shared-memory');
  });

  it('software: a quarter of deviceMemory (1 GiB untold); shared: half (2 GiB untold)', () => {
    expect(estimateVram(swiftshader, 8).bytes).toBe(2 * GiB);
    expect(estimateVram(swiftshader, null).bytes).toBe(GiB);
    expect(estimateVram(intel, 8).bytes).toBe(4 * GiB);
    expect(estimateVram(apple, 4).bytes).toBe(2 * GiB);
    expect(estimateVram(intel, null).bytes).toBe(2 * GiB);
    expect(estimateVram(intel, 0.5).bytes).toBe(GiB / 4);
    expect(estimateVram(null, 8)).toMatchObject({ bytes: 0, kind: 'none' });
    // The reason is said in words.
    expect(estimateVram(intel, 8).why).toMatch(/shares system memory: half of the 8 GB/);
  });

  it('discrete: at least 4 GiB, and at least the largest buffer the adapter offers; deviceMemory does not cap it', () => {
    expect(estimateVram(nvidia, 2).bytes).toBe(4 * GiB);
    expect(estimateVram({ ...nvidia, maxBufferSize: 12 * GiB }, 8).bytes).toBe(12 * GiB);
    expect(estimateVram({ ...nvidia, maxBufferSize: 12 * GiB }, 8).why).toMatch(/largest buffer/);
  });

  it('decides which models are offered: more memory, more models; the welcome recommends by the same rule', () => {
    const list: WebLLMModelRecord[] = [
      { model: 'https://h/a', model_id: 'Small-q4f32_1-MLC', model_lib: '', vram_required_MB: 600 },
      { model: 'https://h/b', model_id: 'Mid-q4f32_1-MLC', model_lib: '', vram_required_MB: 1900 },
      { model: 'https://h/c', model_id: 'Big-q4f32_1-MLC', model_lib: '', vram_required_MB: 3500 },
    ];
    const ids = (a: Parameters<typeof estimateVram>[0], mem: number | null) =>
      fitModels(list, { vramBytes: estimateVram(a, mem).bytes, hasF16: false }).map((r) => r.model_id);
    expect(ids(swiftshader, 4)).toEqual(['Small-q4f32_1-MLC']);
    expect(ids(intel, 4)).toEqual(['Small-q4f32_1-MLC', 'Mid-q4f32_1-MLC']);
    expect(ids(nvidia, 4)).toEqual(['Small-q4f32_1-MLC', 'Mid-q4f32_1-MLC', 'Big-q4f32_1-MLC']);
    const rec = (facts: Parameters<typeof estimateVram>[0], mem: number) =>
      recommend(
        {
          webgpu: { adapter: 'x', f16: false, maxBufferBytes: GiB, ...(facts ? { facts } : {}) },
          deviceMemoryGB: mem,
          freeStorageBytes: null,
          hostsReachable: true,
        },
        [
          { model_id: 'Qwen2.5-1.5B-Instruct-q4f32_1-MLC', vram_required_MB: 1888 },
          { model_id: 'SmolLM2-360M-Instruct-q4f32_1-MLC', vram_required_MB: 579 },
        ],
      );
    expect(rec(swiftshader, 4)).toMatchObject({ ok: true, id: 'SmolLM2-360M-Instruct-q4f32_1-MLC' });
    expect(rec(nvidia, 4)).toMatchObject({ ok: true, id: 'Qwen2.5-1.5B-Instruct-q4f32_1-MLC' });
  });
});
