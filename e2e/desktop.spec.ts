/**
 * The desktop: windows by mouse and by keyboard, each app's main flow, layout
 * kept across a reload, an accessibility check (axe-core), and screenshots of
 * both themes kept as test artifacts.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { expectTerminal, openOS, typeCommand } from './os';

/** A window: the <aos-window> whose dialog has this name (the app inside is slotted into it). */
const win = (page: Page, title: string) =>
  page.locator('aos-window').filter({ has: page.getByRole('dialog', { name: title, exact: true }) });

async function openApp(page: Page, title: string): Promise<void> {
  await page.getByRole('button', { name: 'AgentOS', exact: true }).click();
  await page.getByRole('menuitem', { name: title }).click();
  await expect(win(page, title)).toBeVisible();
}

/**
 * A model server laid out like the Hugging Face hub (`/<model>/resolve/main/<file>`), serving the
 * tiny model's files, the weights `chunk` bytes every `everyMs` so a download takes a while.
 */
async function slowModelServer(model: string, chunk: number, everyMs: number) {
  const server = createServer((req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    const m = new RegExp(`^/${model}/resolve/main/(.+)$`).exec(req.url ?? '');
    let body: Buffer;
    try {
      body = readFileSync(join('public/models/agentos-tiny', m![1]!));
    } catch {
      res.statusCode = 404;
      return res.end();
    }
    res.setHeader('content-length', body.length);
    if (!m![1]!.endsWith('.onnx')) return res.end(body);
    let at = 0;
    const tick = setInterval(() => {
      res.write(body.subarray(at, at + chunk));
      at += chunk;
      if (at >= body.length) {
        clearInterval(tick);
        res.end();
      }
    }, everyMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, host: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

const box = async (page: Page, title: string) => (await win(page, title).boundingBox())!;

test('windows by mouse: open from the launcher, move, resize, minimize, restore, maximize, close; the layout survives a reload', async ({
  page,
}) => {
  await openOS(page);
  await openApp(page, 'Task manager');
  const before = await box(page, 'Task manager');
  const title = win(page, 'Task manager').locator('header');
  const t = (await title.boundingBox())!;
  // Towards the middle of the screen, so the resize grip stays on it.
  const dx = before.x > 200 ? -100 : 100;
  const dy = before.y > 200 ? -60 : 60;
  await page.mouse.move(t.x + 60, t.y + t.height / 2);
  await page.mouse.down();
  await page.mouse.move(t.x + 60 + dx, t.y + t.height / 2 + dy, { steps: 5 });
  await page.mouse.up();
  const moved = await box(page, 'Task manager');
  expect(Math.round(moved.x - before.x)).toBe(dx);
  expect(Math.round(moved.y - before.y)).toBe(dy);
  // Resize from the grip.
  const grip = win(page, 'Task manager').locator('.grip');
  const g = (await grip.boundingBox())!;
  await page.mouse.move(g.x + 8, g.y + 8);
  await page.mouse.down();
  await page.mouse.move(g.x - 92, g.y - 42, { steps: 5 });
  await page.mouse.up();
  const resized = await box(page, 'Task manager');
  expect(Math.round(moved.width - resized.width)).toBe(100);
  expect(Math.round(moved.height - resized.height)).toBe(50);
  // Minimize, then restore from the taskbar.
  await page.getByRole('button', { name: 'Minimize Task manager' }).click();
  await expect(win(page, 'Task manager')).toBeHidden();
  await page.getByRole('toolbar', { name: 'taskbar' }).getByRole('button', { name: 'Task manager' }).click();
  await expect(win(page, 'Task manager')).toBeVisible();
  // Maximize fills the desk; restore gives the size back.
  await page.getByRole('button', { name: 'Maximize Task manager' }).click();
  const desk = (await page.getByRole('main', { name: 'desktop' }).boundingBox())!;
  expect(Math.round((await box(page, 'Task manager')).width)).toBe(Math.round(desk.width));
  await page.getByRole('button', { name: 'Restore Task manager' }).click();
  expect(Math.round((await box(page, 'Task manager')).width)).toBe(Math.round(resized.width));
  // Reload: the same windows, where they were.
  await page.reload();
  await page.waitForFunction(() => !!window.agentos);
  const after = await box(page, 'Task manager');
  expect([Math.round(after.x), Math.round(after.y), Math.round(after.width)]).toEqual([
    Math.round(resized.x),
    Math.round(resized.y),
    Math.round(resized.width),
  ]);
  await expect(win(page, 'Terminal')).toBeVisible();
  // Close.
  await page.getByRole('button', { name: 'Close Task manager' }).click();
  await expect(win(page, 'Task manager')).toHaveCount(0);
});

test('windows by keyboard: the launcher, switching, moving, closing', async ({ page }) => {
  await openOS(page);
  await page.keyboard.press('Control+Alt+l');
  await expect(page.getByRole('menuitem', { name: 'Terminal' })).toBeFocused();
  const tools = page.getByRole('menuitem', { name: 'Tools' });
  for (let i = 0; i < 20 && !(await tools.evaluate((e) => e.matches(':focus'))); i++)
    await page.keyboard.press('ArrowDown');
  await expect(page.getByRole('menuitem', { name: 'Tools' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(win(page, 'Tools')).toBeVisible();
  // The new window has focus on its title bar: arrows move it.
  const start = await box(page, 'Tools');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  const moved = await box(page, 'Tools');
  expect([Math.round(moved.x - start.x), Math.round(moved.y - start.y)]).toEqual([16, 16]);
  await page.keyboard.press('Shift+ArrowLeft');
  expect(Math.round((await box(page, 'Tools')).width)).toBe(Math.round(moved.width - 16));
  // Switch to the terminal and back; close the focused window.
  const focusedTitle = () =>
    page.evaluate(() => {
      const d = document.querySelector('aos-desktop')!;
      return (d as unknown as { wm: { focused: string | null } }).wm.focused;
    });
  await page.keyboard.press('Control+Alt+ArrowRight');
  expect(await focusedTitle()).toMatch(/^terminal-/);
  await page.keyboard.press('Control+Alt+ArrowRight');
  expect(await focusedTitle()).toMatch(/^tools-/);
  await page.keyboard.press('Control+Alt+w');
  await expect(win(page, 'Tools')).toHaveCount(0);
  await page.keyboard.press('Control+Alt+m');
  await expect(win(page, 'Terminal')).toBeHidden();
});

test('task manager: change a priority and see it in ps; suspend, resume, kill', async ({ page }) => {
  await openOS(page);
  const pid = await page.evaluate(() =>
    window.agentos!.spawn(`say ${'word '.repeat(300)}`, undefined, { args: { model: 'deterministic' } }),
  );
  await openApp(page, 'Task manager');
  const row = win(page, 'Task manager').locator(`tr[data-pid="${pid}"]`);
  await expect(row).toContainText(/running|waiting|generating/);
  const prio = row.getByRole('spinbutton', { name: `priority of ${pid}` });
  await prio.fill('7');
  await prio.press('Enter');
  await expect
    .poll(() =>
      page.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.priority), pid),
    )
    .toBe(7);
  await win(page, 'Terminal').locator('header').click();
  await typeCommand(page, 'ps');
  await expectTerminal(page, new RegExp(`\\n\\s*${pid}\\s+0\\s+\\S+\\s+7\\s`));
  await row.getByRole('button', { name: 'Suspend' }).click();
  await expect(row).toContainText('suspended');
  await row.getByRole('button', { name: 'Resume' }).click();
  await expect(row).toContainText(/running|waiting|generating/);
  await row.getByRole('button', { name: 'Kill' }).click();
  await expect
    .poll(() =>
      page.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.state), pid),
    )
    .toBe('exited');
});

test('agent chat: an agent streams its answer, shows its tool call as a card, and stops a long one', async ({
  page,
}) => {
  await openOS(page);
  await openApp(page, 'Agent chat');
  const chat = win(page, 'Agent chat');
  const model = chat.getByRole('combobox', { name: 'model for this chat' });
  const message = chat.getByRole('textbox', { name: 'message' });
  await model.selectOption('deterministic-fast');
  await message.fill('use math.evaluate expression=6*7');
  await chat.getByRole('button', { name: 'Send', exact: true }).click();
  const log = chat.getByRole('log', { name: 'messages' });
  await expect(log.locator('.tool')).toContainText('math.evaluate returned');
  await log.locator('.tool summary').click();
  await expect(log.locator('.tool')).toContainText('"value": 42');
  await expect(log).toContainText('returned: {"value":42}');
  // A long answer, stopped.
  await model.selectOption('deterministic');
  await message.fill(`say ${'streaming '.repeat(200)}`);
  await chat.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(log.locator('.assistant').last()).toContainText('streaming streaming');
  await chat.getByRole('button', { name: 'Stop' }).click();
  await expect(log.locator('.assistant').last()).toContainText('(stopped)');
});

test('memory explorer: find what was remembered, with scores; delete it; an agent’s timeline', async ({
  page,
}) => {
  await openOS(page);
  await typeCommand(page, 'remember the staging database lives on port 5433');
  await expectTerminal(page, /remembered/);
  await openApp(page, 'Memory');
  const mem = win(page, 'Memory');
  await mem.getByRole('searchbox', { name: 'search memory' }).fill('which port is the staging database on');
  await mem.getByRole('button', { name: 'Search' }).click();
  const results = mem.getByRole('table', { name: 'search results' });
  await expect(results).toContainText('the staging database lives on port 5433');
  await expect(results.locator('td').first()).toHaveText(/^\d\.\d{3}$/);
  await results
    .getByRole('button', { name: /^Delete memory/ })
    .first()
    .click();
  await mem.getByRole('button', { name: 'Search' }).click();
  await expect(mem.getByText('Nothing found.')).toBeVisible();
  const pid = await page.evaluate(async () => {
    const p = await window.agentos!.spawn('say timeline', undefined, {
      args: { model: 'deterministic-fast' },
    });
    await window.agentos!.wait(p, 10_000);
    return p;
  });
  await mem.getByRole('spinbutton', { name: 'process id' }).fill(String(pid));
  await mem.getByRole('button', { name: 'Show' }).click();
  const tl = mem.getByRole('list', { name: 'timeline' });
  await expect(tl).toContainText('spawn');
  await expect(tl).toContainText('model.call');
  await expect(tl).toContainText('exit');
});

test('models: a model from a local model server loads, and the desktop says when it is ready', async ({
  page,
}) => {
  test.setTimeout(60_000);
  // A hub-like model server on loopback that sends the weights slowly.
  const { server, host } = await slowModelServer('agentos/tiny', 12_000, 150);
  try {
    await openOS(page);
    await page.evaluate(
      (remoteHost) =>
        window
          .agentos!.call('models.load', {
            id: 'tiny-remote',
            engine: 'transformers',
            options: { model: 'agentos/tiny', allowRemote: true, remoteHost, contextWindow: 512 },
          })
          .catch(() => {}),
      host,
    );
    // Loading was started by the call above (it registers and loads): watch it in the app.
    await openApp(page, 'Models');
    const models = win(page, 'Models');
    await expect(models.getByRole('row', { name: /tiny-remote/ })).toBeVisible();
    await expect
      .poll(
        () =>
          page.evaluate(() =>
            window.agentos!.models().then((m) => m.find((x) => x.id === 'tiny-remote')?.loaded),
          ),
        {
          timeout: 30_000,
        },
      )
      .toBe(true);
    await expect(page.getByRole('status', { name: 'notifications' })).toContainText(
      'Model tiny-remote is loaded and ready',
    );
  } finally {
    server.close();
  }
});

test('models: the progress bar shows bytes, speed and time left while a model downloads', async ({
  page,
}) => {
  test.setTimeout(60_000);
  const { server, host } = await slowModelServer('agentos/slow', 6_000, 200);
  try {
    await openOS(page);
    await openApp(page, 'Models');
    const loading = page.evaluate(
      (remoteHost) =>
        window.agentos!.call('models.load', {
          id: 'tiny-slow',
          engine: 'transformers',
          options: { model: 'agentos/slow', allowRemote: true, remoteHost, contextWindow: 512 },
        }),
      host,
    );
    const bar = win(page, 'Models').getByRole('progressbar', { name: 'downloading tiny-slow' });
    await expect(bar).toBeVisible({ timeout: 20_000 });
    await expect(win(page, 'Models')).toContainText(/\d+\.\d MB \/ 0\.2 MB · \d+\.\d MB\/s · \d+ s left/);
    await expect(bar).toBeHidden({ timeout: 30_000 });
    await loading;
    await expect(win(page, 'Models').getByRole('row', { name: /tiny-slow/ })).toContainText('loaded');
  } finally {
    server.close();
  }
});

test('tools and settings: the registry with schemas; grant and revoke from Settings; the audit trail', async ({
  page,
}) => {
  await openOS(page);
  await openApp(page, 'Tools');
  const tools = win(page, 'Tools');
  await expect(tools.getByRole('table', { name: 'tools' })).toContainText('math.evaluate');
  await tools.getByText('input schema').first().click();
  await expect(tools.locator('details[open] pre')).toContainText('"type": "object"');

  const pid = await page.evaluate(() =>
    window.agentos!.spawn(`say ${'word '.repeat(300)}`, undefined, { args: { model: 'deterministic' } }),
  );
  await openApp(page, 'Settings');
  const settings = win(page, 'Settings');
  await settings.getByRole('combobox', { name: 'agent' }).selectOption(String(pid));
  const grants = settings.getByRole('table', { name: `grants of ${pid}` });
  await grants.getByRole('textbox', { name: 'grant tools' }).fill('memory.recall');
  await grants.getByRole('textbox', { name: 'grant tools' }).press('Enter');
  await expect(grants.getByRole('button', { name: 'Revoke tools memory.recall' })).toBeVisible();
  expect(
    await page.evaluate(
      (p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)!.capabilities.tools),
      pid,
    ),
  ).toContain('memory.recall');
  await grants.getByRole('button', { name: 'Revoke tools memory.recall' }).click();
  await expect(grants.getByRole('button', { name: 'Revoke tools memory.recall' })).toHaveCount(0);
  await expect(settings.getByRole('list', { name: 'audit trail' })).toContainText('revoke: revoked');
  await page.evaluate((p) => window.agentos!.kill(p, 'KILL'), pid);
});

test('accessibility (axe-core: no serious or critical violations) and screenshots of both themes', async ({
  page,
}, info) => {
  await openOS(page);
  await openApp(page, 'Task manager');
  await openApp(page, 'Agent chat');
  const axe = readFileSync('node_modules/axe-core/axe.min.js', 'utf8');
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(200);
    const shot = info.outputPath(`desktop-${scheme}.png`);
    await page.screenshot({ path: shot });
    await info.attach(`desktop-${scheme}`, { path: shot, contentType: 'image/png' });
    await page.addScriptTag({ content: axe });
    const violations = await page.evaluate(async () => {
      const r = await (
        window as unknown as {
          axe: {
            run(
              context: unknown,
              o?: unknown,
            ): Promise<{ violations: { id: string; impact: string; nodes: { target: unknown }[] }[] }>;
          };
        }
      ).axe.run(document, {
        resultTypes: ['violations'],
      });
      return r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        where: JSON.stringify(v.nodes.map((n) => n.target)).slice(0, 300),
      }));
    });
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(serious, `${scheme}: ${JSON.stringify(serious, null, 1)}`).toEqual([]);
  }
});

test('narrow screens: windows fill the desk', async ({ browser }) => {
  const page = await browser.newPage({ viewport: { width: 390, height: 800 } });
  await openOS(page);
  await openApp(page, 'Memory');
  const desk = (await page.getByRole('main', { name: 'desktop' }).boundingBox())!;
  expect(Math.abs((await box(page, 'Memory')).width - desk.width)).toBeLessThan(1);
  await page.close();
});
