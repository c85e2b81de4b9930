/**
 * Long-term memory with a real sentence embedder (transformers.js, e.g.
 * Xenova/all-MiniLM-L6-v2) in an engine worker. It needs the model's weights:
 * run with AGENTOS_EMBED_MODEL=<hub id> on a machine that can download them
 * (they are cached after the first run). Otherwise it is skipped, visibly.
 */
import { expect, test } from '@playwright/test';
import { openOS } from './os';

const MODEL = process.env.AGENTOS_EMBED_MODEL;

test('switching to a transformers.js embedder re-indexes memory and recalls by meaning', async ({ page }) => {
  test.skip(
    !MODEL,
    'transformers.js embedder skipped: set AGENTOS_EMBED_MODEL (e.g. Xenova/all-MiniLM-L6-v2) on a machine that can download it',
  );
  test.setTimeout(600_000);
  await openOS(page);
  const r = await page.evaluate(async (model) => {
    const k = window.agentos!;
    await k.call('memory.remember', {
      items: [
        { text: 'The cat is sleeping on the mat' },
        { text: 'Quarterly revenue grew by ten percent' },
        { text: 'Rain is expected tomorrow' },
      ],
    });
    await k.call('memory.embedder', { id: `transformers:${model}` });
    let s = await k.call<{ reindex: { state: string; error?: string }; embedder: string }>(
      'memory.storage',
      {},
    );
    for (let i = 0; i < 2400 && s.reindex.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      s = await k.call('memory.storage', {});
    }
    const hits = await k.call<{ text: string }[]>('memory.recall', {
      query: 'a kitten napping on a rug',
      k: 1,
    });
    return { s, top: hits[0]?.text };
  }, MODEL!);
  expect(r.s.reindex.state, r.s.reindex.error).toBe('done');
  expect(r.s.embedder).toBe(`transformers:${MODEL}`);
  // No shared words: only meaning links the query to the memory.
  expect(r.top).toBe('The cat is sleeping on the mat');
});
