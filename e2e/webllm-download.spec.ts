/**
 * A WebLLM download through the OS against WebLLM 0.2.86's real loader (no GPU, no internet):
 * a model server on loopback serves a model's mlc-chat-config.json, then stalls or drops on
 * its model library. WebLLM fetches the config, then the library (each through its Cache
 * Storage cache, under the reload's AbortController) before it needs a GPU, so this is as far
 * as a load gets here.
 *  - models.cancel during the stall: the load settles with ECANCELED, WebLLM's fetch is aborted
 *    (the server sees its connection close), nothing of the library is cached, the kernel serves;
 *  - after a page reload, a second load fetches only what is not cached yet (not the config);
 *  - a download cut halfway: EIO and a sentence saying so, nothing half-written in the cache;
 *  - the same through an engine worker of a host tab, which is stopped after the cancel;
 *  - the Models app: Cancel while loading says "cancelled", and Load starts it again.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { expect, type Page, test } from '@playwright/test';
import { openOS } from './os';

type LibMode = 'stall' | 'drop';

interface ModelServer {
  base: string;
  hits: Map<string, number>;
  libMode: LibMode;
  /** Resolves when `path` is requested for the n-th time. */
  requested(path: string, n?: number): Promise<void>;
  /** Resolves when the client closed the n-th request for `path` before its body ended. */
  abandoned(path: string, n?: number): Promise<void>;
  close(): Promise<void>;
}

const CONFIG = {
  model_type: 'llama',
  vocab_size: 32000,
  context_window_size: 512,
  prefill_chunk_size: 128,
  conv_template: { name: 'llama-2', system_template: '{system_message}', roles: { user: 'user' } },
};
const LIB_BYTES = 4 * 2 ** 20;

async function startModelServer(): Promise<ModelServer> {
  const hits = new Map<string, number>();
  const waiters: Array<{ key: string; resolve: () => void }> = [];
  const sockets = new Set<Socket>();
  const mark = (key: string) => {
    hits.set(key, (hits.get(key) ?? 0) + 1);
    const n = hits.get(key);
    for (const w of waiters.splice(0)) {
      if (w.key === `${key}#${n}`) w.resolve();
      else waiters.push(w);
    }
  };
  const wait = (key: string) =>
    new Promise<void>((resolve) => {
      const [k, n] = key.split('#') as [string, string];
      if ((hits.get(k) ?? 0) >= Number(n)) resolve();
      else waiters.push({ key, resolve });
    });
  const s: ModelServer = {
    base: '',
    hits,
    libMode: 'stall',
    requested: (path, n = 1) => wait(`${path}#${n}`),
    abandoned: (path, n = 1) => wait(`abandoned:${path}#${n}`),
    close: () =>
      new Promise((r) => {
        for (const so of sockets) so.destroy();
        server.close(() => r());
      }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    res.setHeader('access-control-allow-origin', '*');
    mark(path);
    if (path === '/m/resolve/main/mlc-chat-config.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(CONFIG));
    } else if (path === '/lib/model.wasm') {
      res.writeHead(200, { 'content-type': 'application/wasm', 'content-length': String(LIB_BYTES) });
      res.write(new Uint8Array(64 * 1024));
      let ended = false;
      res.on('finish', () => {
        ended = true;
      });
      req.socket.on('close', () => {
        if (!ended) mark(`abandoned:${path}`);
      });
      // 'drop': the server goes away halfway through the body.
      if (s.libMode === 'drop') setTimeout(() => req.socket.destroy(), 50);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  server.on('connection', (so) => {
    sockets.add(so);
    so.on('close', () => sockets.delete(so));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // 127.0.0.1, not "localhost": WebLLM fetches a library whose URL says localhost without its cache.
  s.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return s;
}

const ID = 'Own-Model-q4f32_1-MLC';

/** Starts models.load of the loopback model; resolves to its outcome ({code} or loaded). */
function startLoad(page: Page, base: string, hosted = false) {
  return page.evaluate(
    ({ id, base, hosted }) =>
      window
        .agentos!.call('models.load', {
          id,
          engine: 'webllm',
          options: { modelUrl: `${base}/m`, modelLib: `${base}/lib/model.wasm`, vramMB: 64, hosted },
        })
        .then(
          () => ({ code: 'loaded', message: '' }),
          (e: { code?: string; message?: string }) => ({ code: e.code ?? '?', message: e.message ?? '' }),
        ),
    { id: ID, base, hosted },
  );
}

/** The URLs in WebLLM's caches. */
const cachedUrls = (page: Page) =>
  page.evaluate(async () => {
    const out: Record<string, string[]> = {};
    for (const name of ['webllm/config', 'webllm/wasm', 'webllm/model'])
      out[name] = (await (await caches.open(name)).keys()).map((r) => r.url);
    return out;
  });

const kernelServes = (page: Page) =>
  page.evaluate(async () => {
    let text = '';
    for await (const c of window.agentos!.chat({
      model: 'deterministic-fast',
      messages: [{ role: 'user', content: 'still there?' }],
      max_tokens: 4,
    }))
      text += c.choices[0]?.delta.content ?? '';
    return text;
  });

test('a WebLLM download is cancelled mid-file: ECANCELED, the fetch aborted, nothing half-cached; a second load fetches only what is missing; a cut download says so', async ({
  page,
}) => {
  const srv = await startModelServer();
  try {
    await openOS(page);
    // WebLLM runs in the kernel's worker here (it has WebGPU through SwiftShader).
    expect(await page.evaluate(() => 'gpu' in navigator)).toBe(true);
    const load = startLoad(page, srv.base);
    await srv.requested('/lib/model.wasm');
    expect(srv.hits.get('/m/resolve/main/mlc-chat-config.json')).toBe(1);
    await page.evaluate((id) => window.agentos!.call('models.cancel', { id }), ID);
    const r = await load;
    expect(r.code).toBe('ECANCELED');
    expect(r.message).toMatch(/cancelled/);
    // WebLLM's own fetch was aborted (unload() → the reload's AbortController), not just left behind.
    await srv.abandoned('/lib/model.wasm');
    // Nothing half-written: the config (complete) is cached, the library (cut) is not.
    let cached = await cachedUrls(page);
    expect(cached['webllm/config']).toEqual([`${srv.base}/m/resolve/main/mlc-chat-config.json`]);
    expect(cached['webllm/wasm']).toEqual([]);
    expect(await kernelServes(page)).not.toBe('');
    // Not loading any more: a second cancel has nothing to cancel.
    const again = await page.evaluate(
      (id) =>
        window.agentos!.call('models.cancel', { id }).then(
          () => 'ok',
          (e: { code?: string }) => e.code,
        ),
      ID,
    );
    expect(again).toBe('ENOENT');

    // After a reload of the page, load again, and the server drops halfway through the library:
    // resumed from the cache (the config is not fetched again), then a typed error that says the
    // download was cut.
    await page.reload();
    await page.waitForFunction(() => !!window.agentos, null, { timeout: 20_000 });
    srv.libMode = 'drop';
    const second = await startLoad(page, srv.base);
    expect(srv.hits.get('/lib/model.wasm')).toBe(2);
    expect(srv.hits.get('/m/resolve/main/mlc-chat-config.json')).toBe(1);
    expect(second.code).toBe('EIO');
    expect(second.message).toMatch(/was cut before it finished/);
    expect(second.message).toMatch(/loading it again resumes/);
    cached = await cachedUrls(page);
    expect(cached['webllm/wasm']).toEqual([]);
    expect(await kernelServes(page)).not.toBe('');
  } finally {
    await srv.close();
  }
});

test('a WebLLM load in an engine worker of a host tab is cancelled: ECANCELED, and the tab stops the worker', async ({
  page,
}) => {
  const srv = await startModelServer();
  try {
    await openOS(page);
    const load = startLoad(page, srv.base, true);
    await srv.requested('/lib/model.wasm');
    expect(await page.evaluate(() => window.agentos!.hostedEngines().length)).toBe(1);
    await page.evaluate((id) => window.agentos!.call('models.cancel', { id }), ID);
    const r = await load;
    expect(r.code).toBe('ECANCELED');
    await srv.abandoned('/lib/model.wasm');
    await expect.poll(() => page.evaluate(() => window.agentos!.hostedEngines())).toEqual([]);
    expect((await cachedUrls(page))['webllm/wasm']).toEqual([]);
    expect(await kernelServes(page)).not.toBe('');
  } finally {
    await srv.close();
  }
});

test('the Models app cancels a download: it says cancelled, and Load starts it again', async ({ page }) => {
  const srv = await startModelServer();
  try {
    await openOS(page);
    // Put the model in the catalogue (its first load cancelled at once).
    const first = startLoad(page, srv.base);
    await srv.requested('/lib/model.wasm');
    await page.evaluate((id) => window.agentos!.call('models.cancel', { id }), ID);
    expect((await first).code).toBe('ECANCELED');

    await page.getByRole('button', { name: 'AgentOS', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Models' }).click();
    const app = page.locator('aos-app-models');
    const row = app.getByRole('row', { name: new RegExp(ID) });
    await row.getByRole('button', { name: 'Load' }).click();
    await srv.requested('/lib/model.wasm', 2);
    await row.getByRole('button', { name: `Cancel loading ${ID}` }).click();
    await expect(app.getByRole('status')).toContainText(`Loading ${ID} was cancelled`);
    await expect(app.getByRole('alert')).toHaveCount(0);
    await srv.abandoned('/lib/model.wasm', 2);
    // It can start again.
    await row.getByRole('button', { name: 'Load' }).click();
    await srv.requested('/lib/model.wasm', 3);
    await row.getByRole('button', { name: `Cancel loading ${ID}` }).click();
    await expect(app.getByRole('status')).toContainText(`Loading ${ID} was cancelled`);
  } finally {
    await srv.close();
  }
});

test('the welcome’s download of the recommended model is cancelled: it says so, and offers to resume', async ({
  page,
}) => {
  // The model hosts, played here: the config is served, the model library never finishes.
  const held: Array<() => Promise<void>> = [];
  let libRequests = 0;
  await page.context().route(/^https:\/\/(huggingface\.co|raw\.githubusercontent\.com)\//, async (route) => {
    const url = route.request().url();
    if (url.endsWith('/mlc-chat-config.json'))
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(CONFIG) });
    if (url.endsWith('.wasm')) {
      libRequests++;
      held.push(() => route.abort().catch(() => {}));
      return;
    }
    return route.fulfill({ status: url.endsWith('/') ? 200 : 404, body: '' });
  });
  try {
    // A dedicated kernel worker: Playwright's routes reach a page's workers, not a SharedWorker.
    await openOS(page, '?kernel=dedicated', { firstVisit: true });
    const w = page.locator('aos-app-welcome');
    const download = w.getByRole('button', { name: /^Download \S+-MLC$/ });
    await expect(download).toBeEnabled({ timeout: 30_000 });
    await download.click();
    await expect.poll(() => libRequests).toBe(1);
    await w.getByRole('button', { name: 'Cancel download' }).click();
    await expect(w.getByRole('status').filter({ hasText: 'Download cancelled' })).toBeVisible();
    await expect(w.getByRole('alert')).toHaveCount(0);
    // Start again: the same model, its download resumed.
    await w.getByRole('button', { name: 'Resume the download' }).click();
    await expect.poll(() => libRequests).toBe(2);
    await w.getByRole('button', { name: 'Cancel download' }).click();
    await expect(w.getByRole('status').filter({ hasText: 'Download cancelled' })).toBeVisible();
  } finally {
    for (const h of held) await h();
  }
});
