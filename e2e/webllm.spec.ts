/**
 * The engine contract (tests/contract/engine-contract.ts) against the real
 * WebLLM driver on a real GPU, ON DEMAND ONLY: it downloads a model (or uses
 * the browser's cache) and needs a hardware WebGPU adapter. Run it with
 *
 *   AGENTOS_WEBLLM_MODEL=Qwen2.5-0.5B-Instruct-q4f32_1-MLC npx playwright test e2e/webllm.spec.ts
 *
 * (AGENTOS_WEBLLM_VRAM_MB caps the model size, since WebGPU does not report
 * VRAM; AGENTOS_WEBLLM_ALLOW_SOFTWARE=1 lets it run on SwiftShader, very slowly.)
 * Otherwise it is skipped, visibly, and never counted as a pass.
 *
 * The page must expose the driver as `window.agentosWebLLM` (see WebLLMHook).
 */
import { expect, test } from '@playwright/test';
import type { ChatCompletionChunk, ChatRequest } from '../src/models/engine';
import { openOS, webgpuAdapter } from './os';

// window.agentosWebLLM is declared by src/shell/main.ts, which installs it (src/shell/webllm-hook.ts).

const SKIP =
  'WebLLM contract skipped: set AGENTOS_WEBLLM_MODEL and run on a machine with a GPU and network/cached weights';
const MODEL = process.env.AGENTOS_WEBLLM_MODEL;
const VRAM_MB = Number(process.env.AGENTOS_WEBLLM_VRAM_MB ?? Number.POSITIVE_INFINITY);
const ALLOW_SOFTWARE = process.env.AGENTOS_WEBLLM_ALLOW_SOFTWARE === '1';

test('WebLLM driver keeps the engine contract on a real GPU', async ({ page }) => {
  test.skip(!MODEL, SKIP);
  // The first run downloads the weights.
  test.setTimeout(20 * 60_000);
  await openOS(page);

  const adapter = await webgpuAdapter(page);
  test.skip(!adapter, `${SKIP} (no WebGPU adapter in this browser)`);
  test.skip(!!adapter?.software && !ALLOW_SOFTWARE, `${SKIP} (only a software adapter: ${adapter?.arch})`);
  const hasHook = await page.evaluate(() => !!window.agentosWebLLM);
  test.skip(!hasHook, `${SKIP} (this build does not expose window.agentosWebLLM)`);

  const fits = await page.evaluate(
    async ({ model, vramMb }) => {
      const hook = window.agentosWebLLM!;
      const facts = await hook.gpuFacts();
      if (!facts) return false;
      const vramBytes = Number.isFinite(vramMb) ? vramMb * 2 ** 20 : Number.MAX_SAFE_INTEGER;
      const list = await hook.listFittingModels({
        vramBytes,
        hasF16: facts.hasF16,
        maxBufferBytes: facts.maxBufferBytes,
      });
      return list.some((r) => r.model_id === model);
    },
    { model: MODEL!, vramMb: VRAM_MB },
  );
  test.skip(!fits, `${SKIP} (${MODEL} does not fit this GPU: memory, shader-f16 or buffer size)`);

  // Every check runs in the page; only plain data comes back.
  const r = await page.evaluate(async (model) => {
    const hook = window.agentosWebLLM!;
    const text = (cs: ChatCompletionChunk[]) => cs.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const drain = async (
      it: AsyncIterable<ChatCompletionChunk>,
      onChunk?: (c: ChatCompletionChunk) => void,
    ) => {
      const out: ChatCompletionChunk[] = [];
      for await (const c of it) {
        out.push(c);
        onChunk?.(c);
        if (out.length > 5000) throw new Error('unbounded stream');
      }
      return out;
    };
    const engine = await hook.createWebLLMEngine({ model });
    const req: ChatRequest = {
      messages: [{ role: 'user', content: 'Name three primary colours, comma separated.' }],
      temperature: 0,
      seed: 1,
      max_tokens: 24,
    };
    const before = JSON.stringify(req);
    const a = await drain(engine.stream(req));
    const b = await drain(engine.stream(req));
    const mutated = JSON.stringify(req) !== before;

    const capped = await drain(engine.stream({ ...req, max_tokens: 4 }));

    const ctrl = new AbortController();
    let abortedAt = 0;
    const long: ChatRequest = {
      messages: [{ role: 'user', content: 'Count from 1 to 300, one number per line.' }],
      temperature: 0,
      max_tokens: 600,
    };
    const aborted = await drain(engine.stream(long, ctrl.signal), (c) => {
      if (!abortedAt && c.choices[0]?.delta.content) {
        abortedAt = performance.now();
        ctrl.abort();
      }
    });
    const abortMs = performance.now() - abortedAt;

    const unknown = await hook.createWebLLMEngine({ model: 'No-Such-Model-MLC' }).then(
      () => 'resolved',
      (e: { code?: string }) => e.code ?? String(e),
    );
    await engine.dispose?.();
    return {
      textA: text(a),
      textB: text(b),
      lastA: a.at(-1)!,
      counted: engine.countTokens(text(a)),
      onlyLastHasUsage: a.slice(0, -1).every((c) => !c.usage),
      capped: { finish: capped.at(-1)!.choices[0]!.finish_reason, usage: capped.at(-1)!.usage },
      aborted: { finish: aborted.at(-1)!.choices[0]!.finish_reason, ms: abortMs, text: text(aborted) },
      unknown,
      mutated,
    };
  }, MODEL!);

  expect(r.textA.length).toBeGreaterThan(0);
  expect(r.textB).toBe(r.textA); // greedy decoding: the same request gives the same answer
  expect(r.onlyLastHasUsage).toBe(true);
  const u = r.lastA.usage!;
  expect(u.prompt_tokens).toBeGreaterThan(0);
  expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
  // Re-tokenising decoded text can differ slightly from the generated ids (an end token, merges).
  expect(Math.abs(u.completion_tokens - r.counted)).toBeLessThanOrEqual(
    Math.max(2, Math.ceil(0.1 * r.counted)),
  );
  expect(r.capped.finish).toBe('length');
  expect(r.capped.usage!.completion_tokens).toBeLessThanOrEqual(4);
  expect(r.aborted.finish).toBe('abort');
  expect(r.aborted.ms).toBeLessThan(2000);
  expect(r.unknown).toBe('ENOENT');
  expect(r.mutated).toBe(false);
});
