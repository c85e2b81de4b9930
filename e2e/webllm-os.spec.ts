/**
 * WebLLM through the OS on a real GPU, ON DEMAND ONLY (npm run check:gpu sets it up): the
 * model loads into the pool (models.webllm), answers a chat through the kernel and an agent,
 * and its tokens/s through the OS is divided by WebLLM called directly in the same page.
 * Without AGENTOS_WEBLLM_MODEL, a hardware adapter and the hook, it is skipped, visibly.
 */
import { writeFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { openOS, webgpuAdapter } from './os';

const MODEL = process.env.AGENTOS_WEBLLM_MODEL;
const SKIP =
  'WebLLM-through-the-OS check skipped: run `npm run check:gpu` on a machine with a GPU and a network';

test('WebLLM through the OS: a chat, an agent, and tokens/s through the OS ÷ WebLLM direct', async ({
  page,
}) => {
  test.skip(!MODEL, SKIP);
  test.setTimeout(30 * 60_000);
  await openOS(page);
  const adapter = await webgpuAdapter(page);
  test.skip(!adapter || adapter.software, `${SKIP} (no hardware WebGPU adapter: ${adapter?.arch ?? 'none'})`);
  test.skip(!(await page.evaluate(() => !!window.agentosWebLLM)), `${SKIP} (no window.agentosWebLLM)`);

  const r = await page.evaluate(async (model) => {
    const k = window.agentos!;
    const req = {
      messages: [{ role: 'user' as const, content: 'Write a short paragraph about the sea.' }],
      temperature: 0,
      max_tokens: 128,
    };
    const rate = async (it: AsyncIterable<{ choices: Array<{ delta: { content?: string | null } }> }>) => {
      let first = 0;
      let last = 0;
      let n = 0;
      for await (const c of it) {
        if (!c.choices[0]?.delta.content) continue;
        n++;
        last = performance.now();
        first ||= last;
      }
      return { n, tokS: (n - 1) / Math.max(1e-6, (last - first) / 1000) };
    };
    // Through the OS: the pool lists WebLLM's models and loads this one (the download happens here).
    await k.call('models.webllm', { vramMB: 1_000_000 });
    const t0 = performance.now();
    await k.call('models.load', { id: model });
    const loadMs = performance.now() - t0;
    await rate(k.chat({ model, ...req })); // warm
    const os = await rate(k.chat({ model, ...req }));
    // An agent on it, as the desktop's chat starts one.
    const pid = await k.spawn('Say hello in five words.', { tools: [] }, { args: { model, maxTokens: 32 } });
    const exit = await k.wait(pid, 300_000);
    const agentOut = await k.output(pid);
    await k.call('models.unload', { id: model });
    // WebLLM directly, in the same page.
    const engine = (await window.agentosWebLLM!.createMLCEngine(model)) as {
      chat: {
        completions: {
          create(
            r: unknown,
          ): Promise<AsyncIterable<{ choices: Array<{ delta: { content?: string | null } }> }>>;
        };
      };
      unload(): Promise<void>;
    };
    const directReq = { ...req, stream: true };
    await rate(await engine.chat.completions.create(directReq));
    const direct = await rate(await engine.chat.completions.create(directReq));
    await engine.unload();
    return { loadMs, os, direct, exit, agentOut };
  }, MODEL!);

  const ratio = r.os.tokS / r.direct.tokS;
  const line = `check:gpu ${MODEL}: ${r.os.tokS.toFixed(1)} tok/s through the OS ÷ ${r.direct.tokS.toFixed(1)} tok/s WebLLM direct = ${ratio.toFixed(3)} (load ${Math.round(r.loadMs)} ms)`;
  console.log(line);
  writeFileSync('test-results/gpu-check.json', `${JSON.stringify({ model: MODEL, ...r, ratio }, null, 2)}\n`);
  expect(r.os.n).toBeGreaterThan(8);
  expect(r.direct.n).toBeGreaterThan(8);
  expect(r.exit.exitCode, r.agentOut).toBe(0);
  expect(r.agentOut.trim().length).toBeGreaterThan(0);
});
