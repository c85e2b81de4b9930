/**
 * The WebLLM driver against WebLLM's own code where it runs without a GPU (Node):
 * @mlc-ai/web-llm 0.2.86's prebuilt model list and request checks, and XGrammar
 * 0.1.27 (the version WebLLM bundles, as @mlc-ai/web-xgrammar) for its grammar
 * compile. The stand-in MLCEngine only plays the GPU part (device loss).
 */
import { describe, expect, it } from 'vitest';
import { DeterministicEngine } from '../../src/models/engines/deterministic';
import {
  createWebLLMEngine,
  fitModels,
  type MLCEngineLike,
  type WebLLMModelRecord,
  type WebLLMModule,
  webllmProgress,
  webllmRequest,
} from '../../src/models/engines/webllm';
import { loadXGrammar } from '../../src/models/grammar/xgrammar';
import { ModelPool } from '../../src/models/pool';
import { withoutToolTurns } from '../../src/models/tool-calling';

interface RealWebLLM {
  prebuiltAppConfig: { model_list: WebLLMModelRecord[] };
  postInitAndCheckFieldsChatCompletion(req: unknown, model: string): void;
}
const real = () => import('@mlc-ai/web-llm') as unknown as Promise<RealWebLLM>;
const MODEL = 'Qwen2.5-0.5B-Instruct-q4f32_1-MLC';

describe('WebLLM as it really is (0.2.86, in Node)', () => {
  it('offers chat models only: the prebuilt list’s embedding models are left out', async () => {
    const { prebuiltAppConfig } = await real();
    const list = prebuiltAppConfig.model_list;
    const embedders = list.filter((r) => r.model_type === 1);
    expect(embedders.length).toBeGreaterThan(0); // the real list has them (snowflake-arctic-embed…)
    const fit = fitModels(list, { vramBytes: Number.MAX_SAFE_INTEGER, hasF16: true });
    expect(fit.length).toBeGreaterThan(10);
    expect(fit.some((r) => r.model_type === 1)).toBe(false);
    expect(fit.some((r) => r.model_id === MODEL)).toBe(true);
  }, 60_000);

  it('JSON mode sends a schema XGrammar compiles; WebLLM’s own checks accept the request', async () => {
    const { postInitAndCheckFieldsChatCompletion } = await real();
    const xg = await loadXGrammar();
    const info = await xg.TokenizerInfo.createTokenizerInfo(
      ['a', '{', '}', '"', ':', ' ', '</s>'],
      'raw',
      false,
      7,
      [6],
    );
    const compiler = await xg.GrammarCompiler.createGrammarCompiler(info);
    // The defect: WebLLM compiles `schema` for every json_object request; without one XGrammar throws.
    await expect(
      compiler.compileJSONSchema(undefined as unknown as string).then(() => 'compiled'),
    ).rejects.toBeDefined();
    for (const response_format of [
      { type: 'json_object' as const },
      {
        type: 'json_schema' as const,
        json_schema: { schema: { type: 'object', properties: { a: { type: 'string' } } } },
      },
    ]) {
      const r = webllmRequest({ messages: [{ role: 'user', content: 'hi' }], response_format });
      expect(typeof r.response_format?.schema).toBe('string');
      expect(await compiler.compileJSONSchema(r.response_format!.schema!)).toBeDefined();
      expect(() => postInitAndCheckFieldsChatCompletion(structuredClone(r), MODEL)).not.toThrow();
    }
  }, 60_000);

  it('tool_choice none: earlier tool turns reach the model as plain turns, which WebLLM accepts', async () => {
    const { postInitAndCheckFieldsChatCompletion } = await real();
    const messages = withoutToolTurns([
      { role: 'user', content: 'time?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'time.now', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: '{"iso":"2026-01-01"}' },
      { role: 'user', content: 'thanks' },
    ]);
    expect(messages.some((m) => m.role === 'tool')).toBe(false);
    expect(messages[2]).toEqual({ role: 'user', content: 'Result of tool time.now: {"iso":"2026-01-01"}' });
    const r = webllmRequest({ messages });
    expect(() => postInitAndCheckFieldsChatCompletion(structuredClone(r), MODEL)).not.toThrow();
  }, 60_000);

  it('reads WebLLM’s load reports as bytes and phases (download, then onto the GPU)', () => {
    // The texts as WebLLM 0.2.86 writes them (its tvmjs fetchTensorCache report).
    const dl = webllmProgress('m', {
      progress: 0.25,
      timeElapsed: 3,
      text: 'Fetching param cache[5/20]: 100MB fetched. 25% completed, 3 secs elapsed. It can take a while when we first visit this page to populate the cache. Later refreshes will become faster.',
    });
    expect(dl).toMatchObject({ phase: 'download', loaded: 100 * 2 ** 20, total: 400 * 2 ** 20 });
    const gpu = webllmProgress('m', {
      progress: 0.5,
      timeElapsed: 1,
      text: 'Loading model from cache[10/20]: 200MB loaded. 50% completed, 1 secs elapsed.',
    });
    expect(gpu).toMatchObject({ phase: 'gpu', loaded: 200 * 2 ** 20, total: 400 * 2 ** 20 });
    const shaders = webllmProgress(
      'm',
      {
        progress: 0.5,
        timeElapsed: 1,
        text: 'Loading GPU shader modules[3/6]: 50% completed, 1 secs elapsed.',
      },
      1000,
    );
    expect(shaders).toMatchObject({ phase: 'gpu', loaded: 500, total: 1000 });
  });
});

describe('a lost GPU device', () => {
  it('after WebLLM unloads itself (ModelNotLoadedError), the pool drops the model and its budget', async () => {
    const det = new DeterministicEngine({ id: 'x' });
    let lost = false;
    const record: WebLLMModelRecord = {
      model: 'https://huggingface.co/mlc-ai/Fake-1B-q4f32_1-MLC',
      model_id: 'Fake-1B-q4f32_1-MLC',
      model_lib: 'https://example.invalid/fake.wasm',
      vram_required_MB: 512,
    };
    // A stand-in for the GPU part only: after the device is lost every request throws WebLLM's error.
    const mod: WebLLMModule = {
      prebuiltAppConfig: { model_list: [record] },
      hasModelInCache: async () => false,
      deleteModelAllInfoInCache: async () => {},
      CreateMLCEngine: async () =>
        ({
          interruptGenerate() {},
          async unload() {},
          chat: {
            completions: {
              async create() {
                if (lost)
                  throw Object.assign(new Error('Model not loaded before trying to complete'), {
                    name: 'ModelNotLoadedError',
                  });
                const it = det.stream({ messages: [{ role: 'user', content: 'say ok' }] });
                return (async function* () {
                  for await (const c of it)
                    yield {
                      ...c,
                      choices: c.choices.map((x) => ({
                        delta: { content: x.delta.content ?? null },
                        finish_reason: x.finish_reason,
                      })),
                    };
                })();
              },
            },
          },
        }) as MLCEngineLike,
    };
    const pool = new ModelPool(2 ** 40);
    pool.register({
      info: {
        id: 'gpu-model',
        engine: 'webllm',
        contextWindow: 4096,
        sizeBytes: 512 * 2 ** 20,
        supportsTools: false,
      },
      tags: ['small'],
      load: () =>
        createWebLLMEngine({
          model: record.model_id,
          id: 'gpu-model',
          load: async () => mod,
          skipGpuCheck: true,
          countTokens: (t) => t.length,
        }),
    });
    const { sched } = await pool.acquire('gpu-model');
    const job = (signal: AbortSignal) => ({
      pid: 1,
      priority: 0,
      livePriority: () => 0,
      enqueuedAt: performance.now(),
      seq: 0,
      req: { messages: [{ role: 'user' as const, content: 'hi' }] },
      emit: () => {},
      signal,
      parked: () => false,
    });
    await sched.submit(job(new AbortController().signal));
    expect(pool.isLoaded('gpu-model')).toBe(true);
    lost = true;
    const err = await sched.submit(job(new AbortController().signal)).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('EIO');
    expect(String((err as Error).message)).toMatch(/no longer on the GPU/);
    expect(pool.isLoaded('gpu-model')).toBe(false);
  });
});

describe('loading a WebLLM model offline', () => {
  it('says why in words (no network) and what to do, not just "Failed to fetch"', async () => {
    const record: WebLLMModelRecord = {
      model: 'https://huggingface.co/mlc-ai/SmolLM2-360M-Instruct-q4f32_1-MLC',
      model_id: 'SmolLM2-360M-Instruct-q4f32_1-MLC',
      model_lib: 'https://example.invalid/lib.wasm',
      vram_required_MB: 580,
    };
    const mod: WebLLMModule = {
      prebuiltAppConfig: { model_list: [record] },
      hasModelInCache: async () => false,
      deleteModelAllInfoInCache: async () => {},
      // What WebLLM's fetch of the weights throws when there is no network.
      CreateMLCEngine: async () => {
        throw new TypeError('Failed to fetch');
      },
    };
    const err = await createWebLLMEngine({
      model: record.model_id,
      load: async () => mod,
      skipGpuCheck: true,
      countTokens: (t) => t.length,
    }).then(
      () => ({ code: 'loaded', message: '' }),
      (e: unknown) => e as { code?: string; message?: string },
    );
    expect(err.code).toBe('EIO');
    expect(err.message).toMatch(/no network connection to huggingface\.co/);
    expect(err.message).toMatch(/Connect to the internet/);
    expect(err.message).toMatch(/stories260K/);
  });
});

describe('WebLLM when the kernel’s worker has no WebGPU', () => {
  it('still lists the real prebuilt chat models (they load in a host tab’s worker), none needing f16', async () => {
    const { bootKernel } = await import('../../src/kernel/boot');
    const { registerWebLLMModels } = await import('../../src/models/drivers');
    const k = bootKernel({ locks: null });
    expect((globalThis.navigator as { gpu?: unknown } | undefined)?.gpu).toBeUndefined();
    const ids = await registerWebLLMModels(k, 4096 * 2 ** 20);
    expect(ids.length).toBeGreaterThan(5);
    expect(ids.some((id) => /q4f16/.test(id))).toBe(false);
    const listed = k.pool.catalog().filter((m) => m.engine === 'webllm');
    expect(listed.map((m) => m.id).sort()).toEqual([...ids].sort());
  }, 60_000);
});
