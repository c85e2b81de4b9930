/**
 * Deleting a cached model deletes that model's files only: the Models app lists cached
 * files by model (WebLLM's and transformers.js's hub layout, this origin's /models/), and a
 * model in use cannot be deleted from under its engine.
 */
import { expect, type Page, test } from '@playwright/test';
import { openOS } from './os';

const win = (page: Page, title: string) =>
  page.locator('aos-window').filter({ has: page.getByRole('dialog', { name: title, exact: true }) });

test('the Models app deletes one cached model, not the whole cache; a loaded model keeps its files', async ({
  page,
}) => {
  await openOS(page);
  // Files as WebLLM and the OS cache them (bodies small; sizes from content-length).
  await page.evaluate(async () => {
    const put = async (cache: string, url: string, bytes: number) =>
      (await caches.open(cache)).put(
        url,
        new Response(new Uint8Array(bytes), { headers: { 'content-length': String(bytes) } }),
      );
    const hf = 'https://huggingface.co/mlc-ai';
    await put('webllm/model', `${hf}/Model-A-q4f32_1-MLC/resolve/main/params_shard_0.bin`, 3000);
    await put('webllm/model', `${hf}/Model-A-q4f32_1-MLC/resolve/main/params_shard_1.bin`, 3000);
    await put('webllm/config', `${hf}/Model-A-q4f32_1-MLC/resolve/main/mlc-chat-config.json`, 100);
    await put('webllm/model', `${hf}/Model-B-q4f32_1-MLC/resolve/main/params_shard_0.bin`, 5000);
    // Not one of its real files: the PWA's service worker serves /models/ from this very cache
    // (CacheFirst), so a fake config.json would be what the loader reads.
    await put('agentos-models', `${location.origin}/models/stories260K/placeholder.bin`, 500);
  });
  // stories260K in use: loaded into the pool (its files come into the cache as it loads).
  await page.evaluate(() =>
    window
      .agentos!.chat({ model: 'stories260K', messages: [{ role: 'user', content: 'Tom' }], max_tokens: 2 })
      .next(),
  );
  await page.getByRole('button', { name: 'AgentOS', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Models' }).click();
  const table = win(page, 'Models').getByRole('table', { name: 'model caches' });
  await expect(table.getByRole('row', { name: /Model-A-q4f32_1-MLC\s+3\b/ })).toBeVisible();
  await expect(table.getByRole('row', { name: /Model-B-q4f32_1-MLC\s+1\b/ })).toBeVisible();
  await table.getByRole('button', { name: 'Delete cache Model-A-q4f32_1-MLC' }).click();
  await expect(table.getByRole('row', { name: /Model-A/ })).toHaveCount(0);
  await expect(table.getByRole('row', { name: /Model-B-q4f32_1-MLC/ })).toBeVisible();
  const left = await page.evaluate(async () => {
    const out: string[] = [];
    for (const name of ['webllm/model', 'webllm/config'])
      for (const r of await (await caches.open(name)).keys()) out.push(r.url);
    return out;
  });
  expect(left).toEqual(['https://huggingface.co/mlc-ai/Model-B-q4f32_1-MLC/resolve/main/params_shard_0.bin']);
  // The loaded model's files cannot be deleted while it is in use.
  await expect(table.getByRole('button', { name: 'Delete cache stories260K' })).toBeDisabled();
});
