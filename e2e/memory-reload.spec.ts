/**
 * A returning user with a big memory: 25,000 memories (with 1,250 episodes and two resident
 * agents) written through the kernel, every page closed so the kernel's SharedWorker ends, then
 * a new page. Its first recall must find the right memory (a keyword-only match: the stored
 * vectors are noise), and forget must still work, across a second reload too. Real IndexedDB,
 * real Chromium; nothing here is timed.
 */
import { expect, type Page, test } from '@playwright/test';
import { kernelGone, openOS } from './os';

const MEMORIES = 25_000;
const PER_CALL = 20;

/** Writes the memories as the bench's populate does: 8 lanes of remember() calls with precomputed vectors. */
async function populate(page: Page): Promise<void> {
  await page.evaluate(
    async ({ memories, per }) => {
      const k = window.agentos!;
      let seed = 11;
      const rnd = () => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed / 0x7fffffff - 0.5;
      };
      const calls = memories / per;
      let next = 0;
      const lane = async () => {
        while (next < calls) {
          const c = next++;
          const items = Array.from({ length: per }, (_, i) => {
            const v = new Float32Array(384);
            for (let j = 0; j < 384; j++) v[j] = rnd();
            return { text: `note ${c * per + i} about topic ${c % 97}`, namespace: 'big', vector: v };
          });
          await k.call('memory.remember', { items });
        }
      };
      await Promise.all(Array.from({ length: 8 }, lane));
      for (let i = 0; i < 2; i++)
        await k.spawn(`resident ${i}`, undefined, { source: 'export default () => new Promise(() => {})' });
    },
    { memories: MEMORIES, per: PER_CALL },
  );
}

/** The saved snapshot's time, read from the page's own view of the origin's IndexedDB (0 if none). */
function snapshotSavedAt(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const open = indexedDB.open('agentos-vectors');
        open.onerror = () => resolve(0);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('meta')) return resolve(0);
          const get = db.transaction('meta').objectStore('meta').getAll();
          get.onsuccess = () => {
            db.close();
            const metas = get.result as { name: string; savedAt: number }[];
            resolve(metas.find((m) => m.name.startsWith('ltm:'))?.savedAt ?? 0);
          };
          get.onerror = () => resolve(0);
        };
      }),
  );
}

type Hit = { id: number; text: string; namespace: string };

async function reopen(page: Page): Promise<Page> {
  const context = page.context();
  const blank = await context.newPage(); // keeps the context; no kernel of its own
  await page.close();
  await kernelGone(blank);
  const next = await context.newPage();
  await blank.close();
  await openOS(next);
  return next;
}

test('a returning user with 25,000 memories recalls the right one at once after a reload, and forgets', async ({
  context,
}) => {
  test.setTimeout(300_000);
  let page = await context.newPage();
  await openOS(page);
  const before = Date.now();
  await populate(page);
  // The memory saves its snapshot once writes pause: wait for it, so the reload loads it.
  await expect.poll(() => snapshotSavedAt(page), { timeout: 60_000 }).toBeGreaterThan(before);

  page = await reopen(page);
  const first = await page.evaluate(() =>
    window.agentos!.call<Hit[]>('memory.recall', { query: 'note 12345', namespaces: ['big'], k: 3 }),
  );
  expect(first[0]?.text).toBe(`note 12345 about topic ${Math.floor(12345 / PER_CALL) % 97}`);
  const stats = await page.evaluate(() =>
    window.agentos!.call<{ memories: number; indexed: number }>('memory.storage', {}),
  );
  expect(stats).toMatchObject({ memories: MEMORIES, indexed: MEMORIES });

  const forgotten = first[0]!.id;
  await page.evaluate((id) => window.agentos!.call('memory.forget', { id }), forgotten);
  const after = await page.evaluate(() =>
    window.agentos!.call<Hit[]>('memory.recall', { query: 'note 12345', namespaces: ['big'], k: 5 }),
  );
  expect(after.some((h) => h.id === forgotten)).toBe(false);
  // Another memory is still found by its words.
  const other = await page.evaluate(() =>
    window.agentos!.call<Hit[]>('memory.recall', { query: 'note 777', namespaces: ['big'], k: 1 }),
  );
  expect(other[0]?.text).toBe(`note 777 about topic ${Math.floor(777 / PER_CALL) % 97}`);

  // The forget holds across a second reload.
  page = await reopen(page);
  const again = await page.evaluate(() =>
    Promise.all([
      window.agentos!.call<Hit[]>('memory.recall', { query: 'note 12345', namespaces: ['big'], k: 5 }),
      window.agentos!.call<{ memories: number; indexed: number }>('memory.storage', {}),
    ]),
  );
  expect(again[0].some((h) => h.id === forgotten)).toBe(false);
  expect(again[1]).toMatchObject({ memories: MEMORIES - 1, indexed: MEMORIES - 1 });
});
