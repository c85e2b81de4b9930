/** Every driver against the shared engine contract (tests/contract/engine-contract.ts). */
import { afterAll, describe, expect, it } from 'vitest';
import { type ChatMessage, collect } from '../../src/models/engine';
import { DeterministicEngine, tokenize } from '../../src/models/engines/deterministic';
import { createRemoteEngine } from '../../src/models/engines/openai-remote';
import {
  createWebLLMEngine,
  fitModels,
  listFittingModels,
  loadWebLLM,
  type MLCEngineLike,
  modelFilesUrl,
  needsShaderF16,
  type WebLLMChunk,
  type WebLLMModelRecord,
  type WebLLMModule,
  webllmError,
  webllmRequest,
} from '../../src/models/engines/webllm';
import { ModelPool } from '../../src/models/pool';
import { withPromptedTools } from '../../src/models/tool-calling';
import { defineEngineContract } from '../contract/engine-contract';
import { type OpenAIServer, startOpenAIServer } from '../contract/openai-server';

const detCount = (text: string) => tokenize(text).length;

// (a) The reference driver. An unknown model is the pool's answer: the deterministic engine has no model names.
defineEngineContract('deterministic', () => new DeterministicEngine({ id: 'deterministic-fast' }), {
  unknownModel: async () => (await new ModelPool().acquire('no-such-model')).engine,
});

// (b) The remote driver over real HTTP on loopback, against DeterministicEngine behind an OpenAI-shaped server.
const servers: OpenAIServer[] = [];
const server = (() => {
  let p: Promise<OpenAIServer> | null = null;
  return () => {
    p ??= startOpenAIServer().then((s) => {
      servers.push(s);
      return s;
    });
    return p;
  };
})();
const choppyServer = (() => {
  let p: Promise<OpenAIServer> | null = null;
  return () => {
    p ??= startOpenAIServer().then((s) => {
      // CRLF framing, keep-alive comments, and every event split across two writes.
      s.faults.crlf = true;
      s.faults.chop = true;
      servers.push(s);
      return s;
    });
    return p;
  };
})();
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

defineEngineContract(
  'openai-remote (loopback HTTP, estimated countTokens)',
  async () => createRemoteEngine({ baseUrl: (await server()).baseUrl, model: 'det', timeoutMs: 2000 }),
  {
    unknownModel: async () =>
      createRemoteEngine({ baseUrl: (await server()).baseUrl, model: 'no-such-model' }),
    // The server counts with the model's tokenizer, the driver without one estimates (~4 characters a token).
    tolerance: { relative: 0.5, absolute: 2 },
  },
);

defineEngineContract(
  'openai-remote (CRLF, comments, split events; the model tokenizer given)',
  async () =>
    createRemoteEngine({
      baseUrl: (await choppyServer()).baseUrl,
      model: 'det',
      timeoutMs: 2000,
      countTokens: detCount,
    }),
  {
    unknownModel: async () =>
      createRemoteEngine({ baseUrl: (await choppyServer()).baseUrl, model: 'nope', verify: false }),
  },
);

// (c) The prompted-tools wrapper must be transparent for requests without tools.
defineEngineContract('withPromptedTools(deterministic)', () => withPromptedTools(new DeterministicEngine()), {
  unknownModel: async () => (await new ModelPool().acquire('no-such-model')).engine,
});

/**
 * (d) The WebLLM driver over a stand-in for @mlc-ai/web-llm that answers the
 * way MLCEngine does (a content delta per token, a finish chunk, then a usage
 * chunk with no choices; interruptGenerate ends with 'abort'), computed by
 * DeterministicEngine. It checks the driver, not WebLLM: see e2e/webllm.spec.ts.
 */
function fakeWebLLM(): WebLLMModule & { requests: unknown[] } {
  const det = new DeterministicEngine({ id: 'fake' });
  const requests: unknown[] = [];
  const record: WebLLMModelRecord = {
    model: 'https://huggingface.co/mlc-ai/Fake-1B-q4f32_1-MLC',
    model_id: 'Fake-1B-q4f32_1-MLC',
    model_lib: 'https://example.invalid/fake.wasm',
    vram_required_MB: 512,
    overrides: { context_window_size: 2048 },
  };
  const mod: WebLLMModule & { requests: unknown[] } = {
    requests,
    prebuiltAppConfig: { model_list: [record] },
    async hasModelInCache() {
      return false;
    },
    async deleteModelAllInfoInCache() {},
    async CreateMLCEngine(modelId, config) {
      if (!config?.appConfig?.model_list.some((r) => r.model_id === modelId)) {
        throw Object.assign(new Error(`Cannot find model record in appConfig for ${modelId}`), {
          name: 'ModelNotFoundError',
        });
      }
      config.initProgressCallback?.({ progress: 1, timeElapsed: 0, text: 'loaded' });
      let interrupted = false;
      const engine: MLCEngineLike = {
        interruptGenerate() {
          interrupted = true;
        },
        async unload() {},
        chat: {
          completions: {
            async create(req) {
              requests.push(structuredClone(req));
              interrupted = false;
              if (req.messages.some((m, i) => m.role === 'system' && i > 0)) {
                throw Object.assign(new Error('System prompt should be the first'), {
                  name: 'SystemMessageOrderError',
                });
              }
              const stop = new AbortController();
              return (async function* (): AsyncGenerator<WebLLMChunk> {
                const inner = det.stream(
                  { messages: req.messages as ChatMessage[], max_tokens: req.max_tokens, seed: req.seed },
                  stop.signal,
                );
                for await (const c of inner) {
                  if (interrupted) stop.abort();
                  const ch = c.choices[0]!;
                  if (ch.delta.content) {
                    yield {
                      ...c,
                      choices: [
                        { delta: { content: ch.delta.content, role: 'assistant' }, finish_reason: null },
                      ],
                    };
                  }
                  if (ch.finish_reason) {
                    yield { ...c, choices: [{ delta: {}, finish_reason: ch.finish_reason }] };
                    if (req.stream_options.include_usage && c.usage) {
                      yield {
                        ...c,
                        choices: [],
                        usage: { ...c.usage, extra: { e2e_latency_s: 0 } } as WebLLMChunk['usage'],
                      };
                    }
                  }
                }
              })();
            },
          },
        },
      };
      return engine;
    },
  };
  return mod;
}

defineEngineContract(
  'webllm driver (stand-in MLCEngine)',
  () =>
    createWebLLMEngine({
      model: 'Fake-1B-q4f32_1-MLC',
      load: async () => fakeWebLLM(),
      countTokens: detCount,
      skipGpuCheck: true,
    }),
  {
    unknownModel: () =>
      createWebLLMEngine({ model: 'No-Such-Model-MLC', load: async () => fakeWebLLM(), skipGpuCheck: true }),
  },
);

describe('webllm driver details', () => {
  it('reports progress, its size, and one leading system message', async () => {
    const mod = fakeWebLLM();
    const progress: number[] = [];
    const e = await createWebLLMEngine({
      model: 'Fake-1B-q4f32_1-MLC',
      load: async () => mod,
      countTokens: detCount,
      skipGpuCheck: true,
      onProgress: (p) => progress.push(p.loaded),
    });
    // A report without a byte count in its text: the fraction of the model's size, in bytes.
    expect(progress).toEqual([512 * 2 ** 20]);
    expect(e.info).toMatchObject({
      engine: 'webllm',
      contextWindow: 2048,
      sizeBytes: 512 * 2 ** 20,
      supportsTools: true,
    });
    const tools = [{ type: 'function' as const, function: { name: 'get_time', description: 'the time' } }];
    await collect(e.stream({ messages: [{ role: 'user', content: 'hi' }], tools }));
    const sent = mod.requests[0] as {
      messages: Array<{ role: string; content: string }>;
      response_format: unknown;
    };
    expect(sent.messages[0]!.role).toBe('system');
    expect(sent.messages[0]!.content).toContain('get_time');
    expect(sent.response_format).toMatchObject({
      type: 'json_object',
      schema: expect.stringContaining('get_time'),
    });
  });

  it("translates requests to WebLLM's shape", () => {
    const r = webllmRequest({
      messages: [
        { role: 'system', content: 'a' },
        { role: 'user', content: 'q' },
        { role: 'system', content: 'b' },
        { role: 'assistant', content: null },
        { role: 'tool', content: 'r', tool_call_id: 'c1' },
      ],
      response_format: { type: 'json_schema', json_schema: { schema: { type: 'object' } } },
      continuation: 'kernel-internal',
      max_tokens: 3,
    });
    expect(r).toEqual({
      messages: [
        { role: 'system', content: 'a\n\nb' },
        { role: 'user', content: 'q' },
        { role: 'assistant', content: '' },
        { role: 'tool', content: 'r', tool_call_id: 'c1' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 3,
      response_format: { type: 'json_object', schema: '{"type":"object"}' },
    });
  });

  it("maps WebLLM's errors to errnos", () => {
    const err = (name: string, message = 'x') => Object.assign(new Error(message), { name });
    expect(webllmError(err('ModelNotFoundError'), 'load').code).toBe('ENOENT');
    expect(webllmError(err('WebGPUNotAvailableError'), 'load').code).toBe('ENOSYS');
    expect(webllmError(err('ShaderF16SupportError'), 'load').code).toBe('ENOSYS');
    expect(webllmError(err('DeviceLostError'), 'load').code).toBe('ENOSPC');
    expect(webllmError(err('ContextWindowSizeExceededError'), 'chat').code).toBe('E2BIG');
    expect(webllmError(err('MessageOrderError'), 'chat').code).toBe('EINVAL');
    expect(webllmError(new TypeError('Failed to fetch'), 'load').code).toBe('EIO');
  });

  it('fails with ENOSYS without WebGPU, or when the package cannot be imported', async () => {
    if (!(globalThis.navigator as { gpu?: unknown } | undefined)?.gpu) {
      await expect(
        createWebLLMEngine({ model: 'Fake-1B-q4f32_1-MLC', load: async () => fakeWebLLM() }),
      ).rejects.toMatchObject({ code: 'ENOSYS' });
    }
    await expect(
      loadWebLLM(() => import(/* @vite-ignore */ ['no', 'such', 'pkg'].join('-'))),
    ).rejects.toMatchObject({
      code: 'ENOSYS',
    });
  });

  it('filters a model list by VRAM and shader-f16', () => {
    const rec = (model_id: string, mb: number, f?: string[]): WebLLMModelRecord => ({
      model: `https://huggingface.co/mlc-ai/${model_id}`,
      model_id,
      model_lib: '',
      vram_required_MB: mb,
      ...(f ? { required_features: f } : {}),
    });
    const list = [
      rec('Big-q4f32_1-MLC', 6000),
      rec('Small-q4f16_1-MLC', 900),
      rec('Tiny-q4f32_1-MLC', 500),
      rec('X-q0f32-MLC', 800, ['shader-f16']),
    ];
    const ids = (o: Parameters<typeof fitModels>[1]) => fitModels(list, o).map((r) => r.model_id);
    expect(ids({ vramBytes: 1024 * 2 ** 20, hasF16: true })).toEqual([
      'Tiny-q4f32_1-MLC',
      'X-q0f32-MLC',
      'Small-q4f16_1-MLC',
    ]);
    expect(ids({ vramBytes: 1024 * 2 ** 20, hasF16: false })).toEqual(['Tiny-q4f32_1-MLC']);
    expect(ids({ vramBytes: 8 * 2 ** 30, hasF16: false })).toEqual(['Tiny-q4f32_1-MLC', 'Big-q4f32_1-MLC']);
    expect(needsShaderF16(rec('A-q4f16_1-MLC', 1))).toBe(true);
    expect(needsShaderF16(rec('A-q4f32_1-MLC', 1))).toBe(false);
    expect(modelFilesUrl(rec('A-MLC', 1))).toBe('https://huggingface.co/mlc-ai/A-MLC/resolve/main/');
  });

  it("reads the installed package's prebuilt list", async () => {
    // @mlc-ai/web-llm is a dependency: failing to load it is a failure, not a pass.
    const mod = await loadWebLLM();
    expect(mod.prebuiltAppConfig.model_list.length).toBeGreaterThan(0);
    const fit = await listFittingModels({ vramBytes: 2 * 2 ** 30, hasF16: false });
    expect(fit.length).toBeGreaterThan(0);
    expect(fit.every((r) => (r.vram_required_MB ?? Infinity) <= 2048 && !needsShaderF16(r))).toBe(true);
  });
});
