/**
 * The built-in trained model, stories260K, through the kernel in real Chromium: it is in the
 * catalogue as a story writer, loads from this origin into an engine worker of the tab, and on
 * onnxruntime-web (WASM, and WebGPU on SwiftShader) writes the reference continuation greedily,
 * streamed, abortable, counted by its own tokenizer, decoding with its KV cache.
 */
import { expect, test } from '@playwright/test';
import {
  STORY_PROMPT,
  STORY_REFERENCE,
  STORY_REFERENCE_TOKENS,
} from '../tests/contract/stories260k-reference';
import { openOS } from './os';

/** Runs one greedy generation through the kernel and reports what a test needs. */
async function greedy(page: import('@playwright/test').Page, model: string, maxTokens: number) {
  return page.evaluate(
    async ({ model, prompt, maxTokens }) => {
      const k = window.agentos!;
      const pieces: string[] = [];
      let finish: string | null = null;
      const it = k.chat({ model, messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens });
      let usage = null;
      for (;;) {
        const n = await it.next();
        if (n.done) {
          usage = n.value;
          break;
        }
        pieces.push(n.value.choices[0]?.delta.content ?? '');
        finish = n.value.choices[0]?.finish_reason ?? finish;
      }
      return { text: pieces.join(''), chunks: pieces.filter(Boolean).length, finish, usage };
    },
    { model, prompt: STORY_PROMPT, maxTokens },
  );
}

test('stories260K is offered as a story writer and writes the reference story on WASM through the kernel', async ({
  page,
}) => {
  test.setTimeout(90_000);
  await openOS(page);
  const catalogue = await page.evaluate(() => window.agentos!.models());
  const entry = catalogue.find((m) => m.id === 'stories260K');
  expect(entry).toMatchObject({ engine: 'transformers', contextWindow: 512, loaded: false });
  expect(entry!.label).toMatch(/story/i);
  expect(entry!.label).toMatch(/not an assistant/i);
  // The random-weights test model is not offered to users.
  expect(catalogue.some((m) => m.id === 'agentos-tiny')).toBe(false);

  const r = await greedy(page, 'stories260K', STORY_REFERENCE_TOKENS);
  expect(r.text).toBe(STORY_REFERENCE);
  expect(r.chunks).toBeGreaterThan(5); // streamed token by token, not at the end
  expect(r.finish).toBe('length');
  expect(r.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: STORY_REFERENCE_TOKENS });
  // With the KV cache: the prompt in one pass, then one token per pass (5 + 39 tokens fed, not 5 + 6 + … + 44).
  expect(r.usage?.extra).toMatchObject({ forward_passes: STORY_REFERENCE_TOKENS, forward_tokens: 5 + 39 });
  // It runs in an engine worker of this tab.
  expect(await page.evaluate(() => window.agentos!.hostedEngines())).toEqual(
    expect.arrayContaining([expect.stringMatching(/^stories260K#/)]),
  );

  // Abort mid-story: the stream ends with 'abort', and the model serves the next request.
  const aborted = await page.evaluate(async (prompt) => {
    const k = window.agentos!;
    const ctl = new AbortController();
    let text = '';
    let finish: string | null = null;
    for await (const c of k.chat(
      { model: 'stories260K', messages: [{ role: 'user', content: prompt }], max_tokens: 400 },
      ctl.signal,
    )) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (text.length > 20 && !ctl.signal.aborted) ctl.abort();
    }
    return { text, finish };
  }, STORY_PROMPT);
  expect(aborted.finish).toBe('abort');
  expect(STORY_REFERENCE.startsWith(aborted.text.slice(0, 20))).toBe(true);
  expect(aborted.text.length).toBeLessThan(1000);
  const again = await greedy(page, 'stories260K', STORY_REFERENCE_TOKENS);
  expect(again.text).toBe(STORY_REFERENCE);

  // The built-in agent on it, with its tools on offer: the story model writes its story (it calls a
  // tool only when one is required), and ps counts its tokens.
  const agent = await page.evaluate(async (prompt) => {
    const k = window.agentos!;
    const pid = await k.spawn(prompt, undefined, { args: { model: 'stories260K', maxTokens: 40 } });
    const exit = await k.wait(pid, 60_000);
    const p = (await k.ps()).find((x) => x.pid === pid);
    return { exit, usage: p?.usage, out: await k.output(pid) };
  }, STORY_PROMPT);
  expect(agent.exit.exitCode, agent.out).toBe(0);
  expect(agent.out.trim()).toBe(STORY_REFERENCE);
  expect(agent.usage).toMatchObject({ completion_tokens: STORY_REFERENCE_TOKENS });
});

test('stories260K runs on WebGPU (SwiftShader, f32) through the kernel, with its KV cache, and writes the same story', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await openOS(page);
  const hasGpu = await page.evaluate(
    async () =>
      !!(await (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter()),
  );
  expect(hasGpu, 'this Chromium has a WebGPU adapter (SwiftShader)').toBe(true);
  const info = await page.evaluate(() =>
    window.agentos!.call<{ label?: string }>('models.load', {
      id: 'stories260K-webgpu',
      engine: 'transformers',
      options: { model: 'stories260K', device: 'webgpu', contextWindow: 512 },
    }),
  );
  expect(info.label).toMatch(/webgpu/);
  const r = await greedy(page, 'stories260K-webgpu', STORY_REFERENCE_TOKENS);
  expect(r.text).toBe(STORY_REFERENCE);
  expect(r.chunks).toBeGreaterThan(5);
  expect(r.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: STORY_REFERENCE_TOKENS });
  expect(r.usage?.extra).toMatchObject({ forward_passes: STORY_REFERENCE_TOKENS, forward_tokens: 5 + 39 });
  // Abort on the GPU path too; the model then serves again.
  const aborted = await page.evaluate(async () => {
    const k = window.agentos!;
    const ctl = new AbortController();
    let text = '';
    let finish: string | null = null;
    for await (const c of k.chat(
      {
        model: 'stories260K-webgpu',
        messages: [{ role: 'user', content: 'Tom had a dog.' }],
        max_tokens: 300,
      },
      ctl.signal,
    )) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (text.length > 10 && !ctl.signal.aborted) ctl.abort();
    }
    return { finish };
  });
  expect(aborted.finish).toBe('abort');
  const again = await greedy(page, 'stories260K-webgpu', 8);
  expect(STORY_REFERENCE.startsWith(again.text)).toBe(true);
});
