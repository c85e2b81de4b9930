/**
 * The first run: the welcome app opens on the first visit only; choosing the
 * built-in model makes it the default (the taskbar says so) and a chat with it
 * streams the trained model's story; the device check says in words when there
 * is no WebGPU or no network; an OpenAI-compatible server on loopback is
 * connected, and one that refuses this origin (CORS) gets the exact
 * OLLAMA_ORIGINS fix; a phone-sized screen, keyboard only, axe-core.
 */
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { startOpenAIServer } from '../tests/contract/openai-server';
import { expectTerminal, openOS, typeCommand } from './os';

const welcome = (page: Page) => page.locator('aos-app-welcome');
const welcomeWindow = (page: Page) => page.getByRole('dialog', { name: 'Welcome: choose a model' });
const indicator = (page: Page) => page.getByRole('button', { name: /^Agents use: / });

/** The model hosts do not answer, whatever network this machine has. */
async function offline(page: Page): Promise<void> {
  await page.route(/^https:\/\/(huggingface\.co|raw\.githubusercontent\.com)\//, (r) =>
    r.abort('internetdisconnected'),
  );
}

test('the first visit opens the welcome, a later one does not; the built-in model becomes the default and a chat with it streams its story', async ({
  page,
}) => {
  test.setTimeout(120_000); // a real model's answer on WASM, and a reload
  await offline(page);
  await openOS(page, '', { firstVisit: true });
  await expect(welcomeWindow(page)).toBeVisible();
  await expect(welcome(page)).toContainText('tiny demo');
  await expect(indicator(page)).toContainText('deterministic (test engine)');

  await welcome(page).getByRole('button', { name: 'Use the built-in story model' }).click();
  await expect(
    welcome(page).getByRole('status').filter({ hasText: 'Agents now use stories260K' }),
  ).toBeVisible();
  await expect(indicator(page)).toHaveAccessibleName('Agents use: stories260K');
  expect(await page.evaluate(() => window.agentos!.call<{ id: string }>('models.default'))).toMatchObject({
    id: 'stories260K',
    chosen: true,
  });

  await welcome(page).getByRole('button', { name: 'Open a chat' }).click();
  const chat = page.locator('aos-app-chat');
  const composer = chat.getByRole('textbox', { name: 'message' });
  await expect(chat.getByRole('combobox', { name: 'model for this chat' })).toHaveValue('stories260K');
  await composer.fill('Once upon a time');
  await composer.press('Enter');
  await expect(chat.getByRole('button', { name: 'Send', exact: true })).toBeEnabled({ timeout: 60_000 });
  // Greedy, it is the reference continuation in public/models/stories260K's README.
  await expect(chat.locator('.item.assistant').last()).toContainText(
    'there was a little girl named Lily. She loved to play outside in the park.',
  );

  // The next visit (the welcome closed): no welcome; the choice is kept, by the kernel, across a reload.
  await page.getByRole('button', { name: 'Close Welcome: choose a model' }).click();
  await expect(welcomeWindow(page)).toHaveCount(0);
  await page.reload();
  await page.waitForFunction(() => !!window.agentos);
  await expect(indicator(page)).toHaveAccessibleName('Agents use: stories260K');
  await expect(welcomeWindow(page)).toHaveCount(0);
  // And the launcher (or the taskbar's model button) opens it again.
  await indicator(page).click();
  await expect(welcomeWindow(page)).toBeVisible();
});

test('without WebGPU and without a network, the welcome says so in words and what to do', async ({
  page,
}) => {
  await offline(page);
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
  });
  await openOS(page, '', { firstVisit: true });
  const w = welcome(page);
  await expect(w).toContainText(/GPU \(WebGPU\):\s+none — This browser has no WebGPU/);
  await expect(w).toContainText('No download recommended.');
  await expect(w).toContainText('connect a model server below, or continue with the built-in demo model');
  await expect(w).toContainText(
    /Model hosts:\s+cannot be reached — huggingface\.co, raw\.githubusercontent\.com did not answer/,
  );
  await expect(w.getByRole('button', { name: /^Download/ })).toHaveCount(0);
});

test('with WebGPU but no 16-bit floats (SwiftShader) and no network: one f32 chat model is recommended, its download waits for the network', async ({
  page,
}) => {
  await offline(page);
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'deviceMemory', { get: () => 4, configurable: true });
  });
  await openOS(page, '', { firstVisit: true });
  const w = welcome(page);
  await expect(w).toContainText('16-bit floats no', { timeout: 30_000 });
  // The VRAM estimate reads the real adapter: SwiftShader is a software GPU, a quarter of 4 GB.
  await expect(w).toContainText(/GPU memory for models: about 1(\.0)? GB \(estimated: a software GPU/);
  const rec = w.locator('p', { hasText: 'Recommended:' });
  await expect(rec).toContainText(/Recommended: \S+-q4f32_1-MLC, about \d+ MB to download/, {
    timeout: 30_000,
  });
  await expect(rec).not.toContainText(/embed/i);
  await expect(w).toContainText('Good for:');
  await expect(w).toContainText('cannot be reached now (offline?)');
  await expect(w.getByRole('button', { name: /^Download \S+-MLC$/ })).toBeDisabled();
});

test('an OpenAI-compatible server on loopback: tested, its models listed, one made the default; a server that refuses this origin gets the OLLAMA_ORIGINS fix', async ({
  page,
}) => {
  await offline(page);
  await openOS(page, '', { firstVisit: true });
  const origin = new URL(page.url()).origin;
  const good = await startOpenAIServer({ cors: origin });
  const blocked = await startOpenAIServer();
  try {
    const w = welcome(page);
    const url = w.getByRole('textbox', { name: 'Server URL' });

    // Refused by CORS: the server answers, the browser hides it; the fix names this origin.
    await url.fill(blocked.baseUrl);
    await w.getByRole('button', { name: 'Test' }).click();
    const problem = w.getByRole('alert');
    await expect(problem).toContainText(`does not allow the origin ${origin} (CORS)`);
    await expect(problem.locator('code')).toHaveText(`OLLAMA_ORIGINS=${origin} ollama serve`);

    // Nothing listening.
    await blocked.close();
    await url.fill(blocked.baseUrl);
    await w.getByRole('button', { name: 'Test' }).click();
    await expect(problem).toContainText(`Nothing answers at ${blocked.baseUrl}. Is the server running?`);

    // A server that allows this origin: its models, and one chosen.
    await url.fill(`http://127.0.0.1:${good.port}`); // the /v1 is added, as Ollama needs
    await w.getByRole('button', { name: 'Test' }).click();
    const id = `det@127.0.0.1:${good.port}`;
    await w.getByRole('button', { name: `Use ${id}` }).click();
    await expect(indicator(page)).toHaveAccessibleName(`Agents use: ${id}`);
    // A new agent with no model named uses it: the request reaches the server.
    const before = good.hits.get('POST /v1/chat/completions') ?? 0;
    const out = await page.evaluate(async () => {
      const k = window.agentos!;
      const pid = await k.spawn('say hello from the server');
      await k.wait(pid);
      return k.output(pid);
    });
    expect(out).toContain('hello from the server');
    expect(good.hits.get('POST /v1/chat/completions') ?? 0).toBeGreaterThan(before);
  } finally {
    await good.close();
    await blocked.close().catch(() => {});
  }
});

test('on a phone-sized screen, by keyboard alone: the built-in model is chosen; no axe violations', async ({
  page,
}) => {
  await offline(page);
  await page.setViewportSize({ width: 390, height: 844 });
  await openOS(page, '', { firstVisit: true });
  await expect(welcomeWindow(page)).toBeVisible();
  const choose = welcome(page).getByRole('button', { name: 'Use the built-in story model' });
  for (let i = 0; i < 40 && !(await choose.evaluate((el) => el.matches(':focus'))); i++)
    await page.keyboard.press('Tab');
  await expect(choose).toBeFocused();
  const box = (await choose.boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(390);
  await page.keyboard.press('Enter');
  await expect(indicator(page)).toHaveAccessibleName('Agents use: stories260K');
  // The way on has focus: Enter opens a chat.
  await expect(welcome(page).getByRole('button', { name: 'Open a chat' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('aos-app-chat').getByRole('textbox', { name: 'message' })).toBeVisible();

  await page.addScriptTag({ content: readFileSync('node_modules/axe-core/axe.min.js', 'utf8') });
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run(ctx: unknown, o: unknown): Promise<{ violations: { id: string; nodes: unknown[] }[] }> };
      }
    ).axe;
    const r = await axe.run(
      {
        include: [
          { fromShadowDom: ['aos-desktop', 'aos-app-welcome'] },
          { fromShadowDom: ['aos-desktop', 'aos-model-indicator'] },
        ],
      },
      { runOnly: ['wcag2a', 'wcag2aa'] },
    );
    return r.violations.map((v) => `${v.id} (${v.nodes.length})`);
  });
  expect(violations).toEqual([]);
});

test('the terminal lists WebLLM’s models and loads one by id (offline, it says why the download failed, not ENOENT)', async ({
  page,
}) => {
  await page
    .context()
    .route(/^https:\/\/(huggingface\.co|raw\.githubusercontent\.com)\//, (r) =>
      r.abort('internetdisconnected'),
    );
  await openOS(page);
  await typeCommand(page, 'models webllm');
  await expectTerminal(page, /WebLLM: \d+ model\(s\) fit this GPU/);
  await expectTerminal(page, 'SmolLM2-360M-Instruct-q4f32_1-MLC');
  // Never an embedding model among them.
  await expect(page.locator('aos-terminal [role=log]')).not.toContainText('snowflake-arctic-embed');
  // The smallest: it fits the VRAM estimate of SwiftShader (a quarter of RAM) on any machine with 4 GB.
  await typeCommand(page, 'load SmolLM2-360M-Instruct-q4f32_1-MLC');
  const log = page.locator('aos-terminal [role=log]');
  // Offline: the download's failure in words (no network to the model host), and what to do.
  await expect(log).toContainText(
    /EIO: cannot download SmolLM2-360M-Instruct-q4f32_1-MLC: no network connection to huggingface\.co/,
    { timeout: 30_000 },
  );
  await expect(log).toContainText('Connect to the internet');
  await expect(log).not.toContainText('ENOENT');
});
