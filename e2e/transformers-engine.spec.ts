/**
 * The transformers.js driver in a real browser: the project's tiny model
 * (scripts/make-tiny-model.mjs) loads from this origin into an engine worker of
 * the tab, runs on onnxruntime-web's WASM, and serves agents through the kernel
 * — streaming, usage from its tokenizer, max_tokens, abort, unknown models.
 */
import { expect, test } from '@playwright/test';
import { openOS } from './os';

test('the tiny model runs on transformers.js (WASM) in a tab’s engine worker and keeps the engine contract through the kernel', async ({
  page,
}) => {
  test.setTimeout(90_000);
  await openOS(page);
  const entry = await page.evaluate(() =>
    window
      .agentos!.call<{ id: string; label?: string }[]>('models.list', { all: true })
      .then((m) => m.find((x) => x.id === 'agentos-tiny')),
  );
  expect(entry).toMatchObject({ engine: 'transformers', contextWindow: 512, loaded: false });
  expect(entry!.label).toMatch(/random weights/);

  const r = await page.evaluate(async () => {
    const k = window.agentos!;
    const req = {
      model: 'agentos-tiny',
      messages: [{ role: 'user' as const, content: 'Tell me about operating systems.' }],
      temperature: 0,
      max_tokens: 24,
    };
    const run = async (stream: boolean) => {
      const pieces: string[] = [];
      const finishes: (string | null)[] = [];
      const it = k.chat({ ...req, stream } as typeof req);
      let usage = null;
      while (true) {
        const n = await it.next();
        if (n.done) {
          usage = n.value;
          break;
        }
        pieces.push(n.value.choices[0]?.delta.content ?? '');
        finishes.push(n.value.choices[0]?.finish_reason ?? null);
      }
      return { text: pieces.join(''), chunks: pieces.length, finish: finishes.at(-1), usage };
    };
    const a = await run(true);
    const b = await run(true);
    return { a, b, hosted: k.hostedEngines() };
  });
  // Greedy decoding: the same answer twice, streamed in several chunks, counted by the model's tokenizer.
  expect(r.a.text.length).toBeGreaterThan(0);
  expect(r.a.chunks).toBeGreaterThan(1);
  expect(r.b.text).toBe(r.a.text);
  expect(r.a.finish).toBe('length');
  expect(r.a.usage).toMatchObject({ completion_tokens: 24 });
  expect(r.a.usage!.prompt_tokens).toBeGreaterThan(20);
  // It runs in an engine worker of this tab, not in the kernel.
  expect(r.hosted.some((key) => key.startsWith('agentos-tiny'))).toBe(true);

  // Abort mid-stream: the stream ends soon, and the engine serves the next request.
  const aborted = await page.evaluate(async () => {
    const k = window.agentos!;
    const ctl = new AbortController();
    let text = '';
    let finish: string | null = null;
    const t0 = performance.now();
    let at = 0;
    for await (const c of k.chat(
      { model: 'agentos-tiny', messages: [{ role: 'user', content: 'go on' }], max_tokens: 480 },
      ctl.signal,
    )) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (!at && text.length > 3) {
        at = performance.now();
        ctl.abort();
      }
    }
    const endedAfter = performance.now() - at;
    const next = [];
    for await (const c of k.chat({
      model: 'agentos-tiny',
      messages: [{ role: 'user', content: 'again' }],
      max_tokens: 5,
    }))
      next.push(c);
    return {
      text,
      finish,
      endedAfter,
      total: performance.now() - t0,
      nextFinish: next.at(-1)?.choices[0]?.finish_reason,
    };
  });
  expect(aborted.text.length).toBeLessThan(480);
  expect(aborted.finish).toBe('abort');
  expect(aborted.endedAfter).toBeLessThan(2000);
  expect(aborted.nextFinish).toBe('length');

  // An agent uses it like any model; ps shows its token use.
  const agent = await page.evaluate(async () => {
    const k = window.agentos!;
    // No tools: the tiny model's 512-token window has no room for the tool prompt.
    const pid = await k.spawn(
      'Say something.',
      { tools: [] },
      {
        args: { model: 'agentos-tiny', maxTokens: 16 },
      },
    );
    const exit = await k.wait(pid, 30_000);
    const p = (await k.ps()).find((x) => x.pid === pid);
    return { exit, usage: p?.usage, out: await k.output(pid) };
  });
  expect(agent.exit.exitCode).toBe(0);
  expect(agent.usage!.completion_tokens).toBeGreaterThan(0);
  expect(agent.out.length).toBeGreaterThan(0);

  // A model that is not there: ENOENT, and the kernel carries on.
  const missing = await page.evaluate(() =>
    window
      .agentos!.call('models.load', {
        id: 'nope',
        engine: 'transformers',
        options: { model: 'no-such-model' },
      })
      .then(
        () => 'loaded?',
        (e: { message?: string }) => String(e.message),
      ),
  );
  expect(missing).toMatch(/^ENOENT: .*no-such-model/);
  expect(await page.evaluate(() => window.agentos!.ps().then((p) => Array.isArray(p)))).toBe(true);
});
