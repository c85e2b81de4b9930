/**
 * The desktop as a newcomer meets it (issue 16), each point of the first-use trial checked where a
 * regression would be silent: phones (390×844) and a laptop (1280×800), light and dark where the
 * look matters. Also writes docs/desktop.png, the README's picture of the desktop.
 */
import { readFileSync } from 'node:fs';
import { expect, type Locator, type Page, test } from '@playwright/test';
import { expectTerminal, openOS, typeCommand } from './os';

const NARROW = { width: 390, height: 844 };
const WIDE = { width: 1280, height: 800 };

const win = (page: Page, title: string) =>
  page.locator('aos-window').filter({ has: page.getByRole('dialog', { name: title, exact: true }) });
const taskbar = (page: Page) => page.getByRole('toolbar', { name: 'taskbar' });

async function openApp(page: Page, title: string): Promise<void> {
  await taskbar(page).getByRole('button', { name: 'AgentOS', exact: true }).click();
  await page.getByRole('menuitem', { name: title }).click();
  await expect(win(page, title)).toBeVisible();
}

type Box = { x: number; y: number; width: number; height: number };
const intersects = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const inside = (a: Box, vp: { width: number; height: number }) =>
  a.x >= 0 && a.y >= 0 && a.x + a.width <= vp.width + 0.5 && a.y + a.height <= vp.height + 0.5;

/** Whether a tap at the middle of `el` reaches `el` (or something inside it), nothing on top of it. */
async function hittable(el: Locator): Promise<boolean> {
  return el.evaluate((node) => {
    const r = node.getBoundingClientRect();
    const x = r.left + r.width / 2;
    const y = r.top + r.height / 2;
    // Walk down through shadow roots to the element really under the point.
    let hit: Element | null = document.elementFromPoint(x, y);
    while (hit?.shadowRoot) {
      const inner = hit.shadowRoot.elementFromPoint(x, y);
      if (!inner || inner === hit) break;
      hit = inner;
    }
    for (let n: Node | null = hit; n; n = n.parentNode ?? (n as ShadowRoot).host ?? null)
      if (n === node) return true;
    return false;
  });
}

/** The element that has the keyboard, through shadow roots, described for assertions. */
const focused = (page: Page) =>
  page.evaluate(() => {
    let e: Element | null = document.activeElement;
    while (e?.shadowRoot?.activeElement) e = e.shadowRoot.activeElement;
    if (!e) return '';
    return `${e.tagName.toLowerCase()}|${e.getAttribute('aria-label') ?? e.textContent?.trim().slice(0, 40) ?? ''}`;
  });

async function withPage(
  browser: import('@playwright/test').Browser,
  viewport: { width: number; height: number },
  colorScheme: 'light' | 'dark',
  f: (page: Page) => Promise<void>,
) {
  const page = await browser.newPage({ viewport, colorScheme });
  try {
    await openOS(page);
    await f(page);
  } finally {
    await page.close();
  }
}

test.describe('1. phones', () => {
  for (const scheme of ['light', 'dark'] as const)
    test(`${scheme}: the kernel status never sits on the taskbar buttons; one app at a time, full screen; the taskbar goes back`, async ({
      browser,
    }) => {
      await withPage(browser, NARROW, scheme, async (page) => {
        await expect(page.getByRole('status', { name: 'kernel status' })).toContainText('ready');
        for (const app of ['Memory', 'Task manager', 'Tools', 'Settings']) await openApp(page, app);
        // The window buttons have a strip of their own that ends before the status begins, and every
        // button shown in it takes a tap.
        const status = (await page.getByRole('status', { name: 'kernel status' }).boundingBox())!;
        const strip = (await taskbar(page).locator('.running').boundingBox())!;
        expect(strip.x + strip.width).toBeLessThanOrEqual(status.x);
        const buttons = taskbar(page).getByRole('button');
        let shown = 0;
        for (const b of await buttons.all()) {
          const box = (await b.boundingBox())!;
          if (box.x + box.width > strip.x + strip.width + 0.5) continue; // scrolled out of the strip
          shown++;
          expect(await hittable(b), `${await b.textContent()}`).toBe(true);
        }
        expect(shown).toBeGreaterThanOrEqual(3);
        // Only the top app shows, filling the desk; the others are a tap away in the taskbar.
        const desk = (await page.getByRole('main', { name: 'desktop' }).boundingBox())!;
        await expect(page.locator('aos-window:not([hidden])')).toHaveCount(1);
        const settings = (await win(page, 'Settings').boundingBox())!;
        expect([settings.x, settings.y, settings.width]).toEqual([desk.x, desk.y, desk.width]);
        const term = taskbar(page).getByRole('button', { name: 'Terminal' });
        await term.scrollIntoViewIfNeeded();
        expect(await hittable(term)).toBe(true);
        await term.click();
        await expect(win(page, 'Terminal')).toBeVisible();
        await expect(win(page, 'Settings')).toBeHidden();
        // No maximize button on a phone: every window already fills the screen.
        await expect(win(page, 'Terminal').getByRole('button', { name: /^Maximize/ })).toHaveCount(0);
      });
    });

  test('a layout saved on a wide screen opens on a phone with every window on screen and its buttons reachable', async ({
    browser,
  }) => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await openOS(page);
    await openApp(page, 'Models');
    await openApp(page, 'Tools');
    const models = win(page, 'Models').locator('header');
    const t = (await models.boundingBox())!;
    await page.mouse.move(t.x + 40, t.y + t.height / 2);
    await page.mouse.down();
    await page.mouse.move(1500, 600, { steps: 4 });
    await page.mouse.up();
    await page.setViewportSize(NARROW); // the same tab, rotated or resized
    for (const vp of [NARROW]) {
      for (const title of ['Models', 'Tools', 'Terminal']) {
        // The taskbar shows an app (a tap on the app already shown would minimize it).
        if (!(await win(page, title).isVisible()))
          await taskbar(page).getByRole('button', { name: title }).click();
        await expect(win(page, title)).toBeVisible();
        // (The desktop re-lays itself out on the resize event, a frame after the viewport changes.)
        await expect
          .poll(async () => inside((await win(page, title).boundingBox())!, vp), { message: title })
          .toBe(true);
        const close = win(page, title).getByRole('button', { name: `Close ${title}` });
        expect(await hittable(close)).toBe(true);
        // Nothing in the app runs off the side of the screen either (its actions stay reachable).
        const widest = await win(page, title).evaluate((w) => {
          const app = w.firstElementChild as HTMLElement;
          return Math.max(
            ...[...(app.shadowRoot ?? app).querySelectorAll('button')].map(
              (b) => b.getBoundingClientRect().right,
            ),
          );
        });
        expect(widest, title).toBeLessThanOrEqual(vp.width);
      }
    }
    // And after a reload on the phone.
    await page.reload();
    await page.waitForFunction(() => !!window.agentos);
    for (const w of await page.locator('aos-window:not([hidden])').all())
      expect(inside((await w.boundingBox())!, NARROW)).toBe(true);
    await page.close();
  });

  for (const viewport of [NARROW, WIDE])
    test(`${viewport.width}px: a notification never covers an app (the terminal's input stays usable under it)`, async ({
      browser,
    }) => {
      await withPage(browser, viewport, 'light', async (page) => {
        await page.evaluate(() =>
          (document.querySelector('aos-desktop') as unknown as { notify(t: string): void }).notify(
            'Agent 3 finished (exit 0): a rather long task description that goes on',
          ),
        );
        const toast = page.getByRole('status', { name: 'notifications' }).locator('.toast');
        await expect(toast).toBeVisible();
        const input = page.getByRole('textbox', { name: 'command' });
        const t = (await toast.boundingBox())!;
        for (const w of await page.locator('aos-window:not([hidden])').all())
          expect(intersects((await w.boundingBox())!, t)).toBe(false);
        expect(await hittable(input)).toBe(true);
        await input.fill('help');
        await input.press('Enter');
        await expectTerminal(page, 'list commands');
        // It can be dismissed at once.
        await page.getByRole('button', { name: /^Dismiss: Agent 3 finished/ }).click();
        await expect(toast).toHaveCount(0);
      });
    });
});

test.describe('2. windows', () => {
  test('one window per app, from the launcher by keyboard and by mouse; new windows keep every title bar visible', async ({
    browser,
  }) => {
    await withPage(browser, WIDE, 'light', async (page) => {
      for (const title of ['Terminal', 'Tools', 'Tools', 'Settings']) {
        await page.keyboard.press('Control+Alt+l');
        const item = page.getByRole('menuitem', { name: title });
        await page.keyboard.press('Home');
        for (let i = 0; i < 20 && !(await item.evaluate((e) => e.matches(':focus'))); i++)
          await page.keyboard.press('ArrowDown');
        await page.keyboard.press('Enter');
        await expect(win(page, title)).toBeVisible();
      }
      await openApp(page, 'Settings');
      for (const title of ['Tools', 'Terminal', 'Settings']) await expect(win(page, title)).toHaveCount(1);
      // New windows went where they cover no title bar: all three can be grabbed and read.
      for (const title of ['Tools', 'Terminal', 'Settings']) {
        const name = win(page, title).locator('header .name');
        expect(await hittable(name), `${title}'s title`).toBe(true);
      }
      // A fourth still does not land on another's corner, and stays on the desk.
      await openApp(page, 'Models');
      const boxes = await Promise.all(
        (await page.locator('aos-window:not([hidden])').all()).map(async (w) => (await w.boundingBox())!),
      );
      const corners = boxes.map((b) => `${Math.round(b.x)},${Math.round(b.y)}`);
      expect(new Set(corners).size).toBe(corners.length);
      for (const w of boxes) expect(inside(w, WIDE)).toBe(true);
    });
  });
});

test.describe('3. keyboard', () => {
  test('the terminal has the keyboard at load; Tab completes a command name and otherwise leaves; the launcher follows the arrows', async ({
    browser,
  }) => {
    await withPage(browser, WIDE, 'light', async (page) => {
      await expect.poll(() => focused(page)).toBe('input|command');
      await page.keyboard.type('sp');
      await page.keyboard.press('Tab');
      await expect(page.getByRole('textbox', { name: 'command' })).toHaveValue('spawn ');
      await page.getByRole('textbox', { name: 'command' }).fill('');
      await page.keyboard.press('Tab'); // nothing to complete: focus moves on
      expect(await focused(page)).not.toBe('input|command');
      await page.keyboard.press('Shift+Tab');
      expect(await focused(page)).toBe('input|command');
      await page.keyboard.type('zz');
      await page.keyboard.press('Tab'); // no command starts with zz: moves on too
      expect(await focused(page)).not.toBe('input|command');
      // The launcher: arrows, Home/End, Escape back to the button.
      await page.keyboard.press('Control+Alt+l');
      const items = page.getByRole('menu', { name: 'apps' }).getByRole('menuitem');
      const names = await items.allTextContents();
      expect(await focused(page)).toBe(`button|${names[0]!.trim()}`);
      await page.keyboard.press('ArrowDown');
      expect(await focused(page)).toBe(`button|${names[1]!.trim()}`);
      await page.keyboard.press('ArrowUp');
      await page.keyboard.press('ArrowUp'); // wraps to the last
      expect(await focused(page)).toBe(`button|${names.at(-1)!.trim()}`);
      await page.keyboard.press('Home');
      expect(await focused(page)).toBe(`button|${names[0]!.trim()}`);
      await page.keyboard.press('End');
      expect(await focused(page)).toBe(`button|${names.at(-1)!.trim()}`);
      await page.keyboard.press('Escape');
      await expect(page.getByRole('menu', { name: 'apps' })).toHaveCount(0);
      expect(await focused(page)).toBe('button|AgentOS');
    });
  });

  test('keyboard only: every app opens from the launcher and Tab reaches every control in it', async ({
    browser,
  }) => {
    await withPage(browser, WIDE, 'light', async (page) => {
      await page.evaluate(() =>
        window.agentos!.spawn(`say ${'word '.repeat(400)}`, undefined, { args: { model: 'deterministic' } }),
      );
      const apps = (await (async () => {
        await page.keyboard.press('Control+Alt+l');
        const names = await page.getByRole('menuitem').allTextContents();
        await page.keyboard.press('Escape');
        return names.map((n) => n.trim());
      })()) as string[];
      for (const title of apps) {
        await page.keyboard.press('Control+Alt+l');
        const item = page.getByRole('menuitem', { name: title, exact: true });
        for (let i = 0; i < 20 && !(await item.evaluate((e) => e.matches(':focus'))); i++)
          await page.keyboard.press('ArrowDown');
        await page.keyboard.press('Enter');
        await expect(win(page, title)).toBeVisible();
        await page.waitForTimeout(300); // the app's first data
        // Every enabled control the app shows, and the ones Tab reaches from its title bar.
        const all = await win(page, title).evaluate((w) => {
          const app = w.firstElementChild as HTMLElement;
          const root = app.shadowRoot ?? app;
          // A radio group is one Tab stop (arrows move inside it): its checked radio stands for it.
          return [...root.querySelectorAll<HTMLElement>('button, input, select, textarea, summary, a[href]')]
            .filter((e) => !(e as HTMLButtonElement).disabled && e.getClientRects().length > 0)
            .filter((e) => !(e instanceof HTMLInputElement && e.type === 'radio' && !e.checked))
            .map((e, i) => {
              e.dataset.kb = String(i);
              return String(i);
            });
        });
        const reached = new Set<string>();
        for (let i = 0; i < all.length + 12; i++) {
          await page.keyboard.press('Tab');
          const kb = await page.evaluate(() => {
            let e: Element | null = document.activeElement;
            while (e?.shadowRoot?.activeElement) e = e.shadowRoot.activeElement;
            return (e as HTMLElement | null)?.dataset.kb ?? null;
          });
          if (kb !== null) reached.add(kb);
          if (reached.size === all.length) break;
        }
        expect([...reached].sort(), `${title}: controls Tab did not reach`).toEqual([...all].sort());
        await page.keyboard.press('Control+Alt+w');
        await expect(win(page, title)).toHaveCount(0);
      }
    });
  });
});

test.describe('4. terminal', () => {
  for (const viewport of [NARROW, WIDE])
    test(`${viewport.width}px: help fits the window (no line wraps), and every command's name is in it`, async ({
      browser,
    }) => {
      await withPage(browser, viewport, 'dark', async (page) => {
        await typeCommand(page, 'help');
        const out = page.locator('aos-terminal .line.out').last();
        await expect(out).toContainText('list commands');
        const { lines, rendered } = await out.evaluate((el) => {
          const lh = Number.parseFloat(getComputedStyle(el).lineHeight);
          return {
            lines: (el.textContent ?? '').split('\n').length,
            rendered: Math.round(el.clientHeight / lh),
          };
        });
        expect(rendered).toBe(lines); // a line longer than the window would wrap and add rows
        for (const name of ['spawn', 'grant', 'revoke', 'embed', 'clear'])
          await expect(out).toContainText(name);
      });
    });

  test('bad options are refused before anything starts; kill and grant on an exited process say so; load shows progress', async ({
    browser,
  }) => {
    await withPage(browser, WIDE, 'light', async (page) => {
      const count = () => page.evaluate(() => window.agentos!.ps().then((p) => p.length));
      const before = await count();
      await typeCommand(page, 'spawn --bogus hi');
      await expectTerminal(
        page,
        'unknown option --bogus; the options are --priority <priority>, --program <program>, --model <model>',
      );
      await typeCommand(page, 'spawn --model nosuchmodel hi');
      await expectTerminal(page, /ENOENT: no model "nosuchmodel"; the models are .*deterministic/);
      await typeCommand(page, 'spawn --priority abc hi');
      await expectTerminal(
        page,
        'priority must be a whole number from -20 (most urgent) to 19 (least), not "abc"',
      );
      expect(await count()).toBe(before);
      const pid = await page.evaluate(async () => {
        const p = await window.agentos!.spawn('say bye', undefined, {
          args: { model: 'deterministic-fast' },
        });
        await window.agentos!.wait(p, 10_000);
        return p;
      });
      await typeCommand(page, `kill ${pid}`);
      await expectTerminal(page, `process ${pid} has already exited (code 0): nothing to kill`);
      await typeCommand(page, `grant ${pid} tools http.fetch`);
      await expectTerminal(page, `process ${pid} has already exited (code 0): nothing to grant`);
      // The kernel refuses it too (not just the terminal).
      const err = await page.evaluate(
        (p) =>
          window.agentos!.call('grant', { pid: p, permissions: { tools: ['http.fetch'] } }).then(
            () => 'granted',
            (e: Error) => e.message,
          ),
        pid,
      );
      expect(err).toMatch(/^ESRCH: process \d+ has exited/);
      await typeCommand(page, 'load agentos-tiny');
      await expectTerminal(page, /loaded agentos-tiny \(context \d+\)/);
      await expect(page.locator('aos-terminal .line', { hasText: /loading agentos-tiny/ })).toHaveCount(0); // replaced in place
    });
  });
});

test.describe('5. errors in the user’s terms', () => {
  test('what the user typed is what the message names; a failed tool call is not exit 0', async ({
    browser,
  }) => {
    await withPage(browser, WIDE, 'light', async (page) => {
      await typeCommand(page, 'mcp add not a url');
      await expectTerminal(page, 'mcp add takes one URL and an optional prefix');
      await typeCommand(page, 'mcp add localhost:3000/mcp');
      await expectTerminal(
        page,
        '"localhost:3000/mcp" does not start with http:// or https:// — did you mean http://localhost:3000/mcp?',
      );
      await typeCommand(page, 'spawn compute math.evaluate (2+3)*4');
      await expectTerminal(page, /math\.evaluate returned: \{"value":20\}/);
      await expectTerminal(page, /\[\d+\] exited with code 0/);
      await typeCommand(page, 'spawn compute math.evaluate expression=2+');
      await expectTerminal(page, /tool math\.evaluate failed: EINVAL/);
      await expectTerminal(page, /\[\d+\] exited with code 1/);
      // A long task (16,893 characters) runs; nothing about a "query" the user never gave.
      await typeCommand(page, `spawn say ${'x'.repeat(16_887)}`);
      await expectTerminal(page, /\[\d+\] exited with code 0/);
      await expect(page.locator('aos-terminal [role=log]')).not.toContainText('E2BIG');
      // Models: an address without http:// gets a suggestion, next to the form, in view.
      await openApp(page, 'Models');
      const models = win(page, 'Models');
      await models.getByRole('textbox', { name: /base URL/ }).fill('localhost:11434');
      await models.getByRole('button', { name: 'Add and test' }).click();
      const err = models.locator('#remote-error');
      await expect(err).toHaveText(
        'EINVAL: "localhost:11434" does not start with http:// or https:// — did you mean http://localhost:11434?',
      );
      await expect(err).toBeInViewport();
      expect(intersects((await err.boundingBox())!, (await models.boundingBox())!)).toBe(true);
    });
  });
});

test.describe('6. task manager', () => {
  for (const [viewport, scheme] of [
    [WIDE, 'light'],
    [NARROW, 'dark'],
  ] as const)
    test(`${viewport.width}px ${scheme}: actions on one line, rows aligned, a chart you can see, no priority input on exited rows`, async ({
      browser,
    }) => {
      await withPage(browser, viewport, scheme, async (page) => {
        const [live, done] = await page.evaluate(async () => {
          const a = await window.agentos!.spawn(`say ${'word '.repeat(400)}`, undefined, {
            args: { model: 'deterministic' },
          });
          const b = await window.agentos!.spawn('say done', undefined, {
            args: { model: 'deterministic-fast' },
          });
          await window.agentos!.wait(b, 10_000);
          return [a, b];
        });
        await openApp(page, 'Task manager');
        const tm = win(page, 'Task manager');
        await tm.getByRole('checkbox', { name: 'show exited' }).check();
        const row = tm.locator(`tr[data-pid="${live}"]`);
        const suspend = row.getByRole('button', { name: 'Suspend' });
        const kill = row.getByRole('button', { name: 'Kill' });
        await expect(kill).toBeVisible();
        const [s, k] = [(await suspend.boundingBox())!, (await kill.boundingBox())!];
        // Side by side on a laptop; on a phone stacked on purpose, and both on screen.
        if (viewport === WIDE) expect(Math.round(s.y)).toBe(Math.round(k.y));
        else expect(Math.round(s.x)).toBe(Math.round(k.x));
        for (const b of [s, k]) expect(inside(b, viewport)).toBe(true);
        // Every cell spans its row (a display:flex cell once left the table's grid and misaligned rows).
        const cells = await row.locator('td').evaluateAll((tds) =>
          // (Columns a phone hides have no box.)
          tds
            .filter((td) => td.getClientRects().length > 0)
            .map(
              (td) =>
                `${Math.round(td.getBoundingClientRect().top)}/${Math.round(td.getBoundingClientRect().height)}`,
            ),
        );
        expect(new Set(cells).size).toBe(1);
        const exited = tm.locator(`tr[data-pid="${done}"]`);
        await expect(exited).toContainText('exited');
        await expect(exited.getByRole('spinbutton')).toHaveCount(0);
        // The chart: big enough to read, drawn in a colour that differs from its background.
        const chart = tm.getByRole('img', { name: /tokens per second/ });
        const c = (await chart.boundingBox())!;
        expect(c.height).toBeGreaterThanOrEqual(48);
        expect(c.width).toBeGreaterThanOrEqual(200);
        const colours = await chart.evaluate((svg) => ({
          line: getComputedStyle(svg.querySelector('.line')!).stroke,
          bg: getComputedStyle(svg).backgroundColor,
        }));
        expect(colours.line).not.toBe(colours.bg);
        expect(colours.line).not.toMatch(/rgba\(.*, 0\)|none/);
        await page.evaluate((p) => window.agentos!.kill(p, 'KILL'), live);
      });
    });
});

test.describe('7. memory explorer', () => {
  test('lists the newest at once; an empty search lists; the namespace re-runs the search; delete can be undone; the count follows', async ({
    browser,
  }) => {
    await withPage(browser, WIDE, 'light', async (page) => {
      await page.evaluate(async () => {
        await window.agentos!.call('memory.remember', {
          items: [{ text: 'the printer is on floor two', namespace: 'user' }],
        });
        await window.agentos!.call('memory.remember', {
          items: [{ text: 'lunch is at noon', namespace: 'team' }],
        });
      });
      await openApp(page, 'Memory');
      const mem = win(page, 'Memory');
      const rows = mem.getByRole('table', { name: 'search results' }).locator('tbody tr');
      await expect(rows.first()).toContainText('lunch is at noon'); // newest first, no search needed
      await expect(rows.nth(1)).toContainText('the printer is on floor two');
      await expect(mem.getByLabel('memory count')).toContainText(/^\s*2 memories/);
      await mem.getByRole('combobox', { name: 'namespace' }).selectOption('user');
      await expect(rows).toHaveCount(1);
      await expect(rows.first()).toContainText('printer');
      await mem.getByRole('searchbox', { name: 'search memory' }).fill('');
      await mem.getByRole('combobox', { name: 'namespace' }).selectOption('');
      await mem.getByRole('button', { name: 'Search' }).click();
      await expect(rows).toHaveCount(2);
      await rows
        .first()
        .getByRole('button', { name: /^Delete memory/ })
        .click();
      await expect(rows).toHaveCount(1);
      await expect(mem.getByLabel('memory count')).toContainText(/^\s*1 memory\b/);
      await mem.getByRole('button', { name: 'Undo' }).click();
      await expect(rows).toHaveCount(2);
      await expect(rows.first()).toContainText('lunch is at noon');
      await expect(mem.getByLabel('memory count')).toContainText(/^\s*2 memories/);
    });
  });
});

test.describe('8. models and settings', () => {
  test('settings: why the permissions list is empty, what Keep my data did, and the sites embed-policy.json allows', async ({
    browser,
  }) => {
    await withPage(browser, NARROW, 'dark', async (page) => {
      await openApp(page, 'Settings');
      const s = win(page, 'Settings');
      await expect(s).toContainText('No agents are running, so there are no grants to change.');
      const keep = s.getByRole('button', { name: 'Keep my data' });
      if (await keep.count()) {
        await keep.click();
        await expect(s.getByText(/^(Done: the browser will not evict|The browser said no)/)).toBeVisible();
      } else await expect(s).toContainText('persistent');
      const policy = JSON.parse(readFileSync('public/embed-policy.json', 'utf8')) as {
        origins: Record<string, unknown>;
      };
      const listed = s.getByRole('list', { name: 'sites allowed by embed-policy.json' });
      for (const origin of Object.keys(policy.origins)) await expect(listed).toContainText(origin);
    });
  });
});

test.describe('10. npm start', () => {
  test('serves the production build: no Lit dev-mode warning, no CSP violations while an agent runs, installable', async ({
    page,
  }) => {
    const messages: string[] = [];
    page.on('console', (m) => messages.push(`${m.type()}: ${m.text()}`));
    await openOS(page);
    const exit = await page.evaluate(async () => {
      const p = await window.agentos!.spawn('say hi', undefined, { args: { model: 'deterministic-fast' } });
      return window.agentos!.wait(p, 10_000);
    });
    expect(exit.exitCode).toBe(0);
    await expect(page.locator('link[rel=manifest]')).toHaveCount(1);
    await page.evaluate(() => navigator.serviceWorker.ready);
    expect(messages.filter((m) => /dev mode|Content Security Policy|Refused to/i.test(m))).toEqual([]);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).scripts.dev).toMatch(/^vite\b/);
  });
});

test.describe('11. the README', () => {
  test('shows the desktop as it is (docs/desktop.png, written here) and says nothing stale', async ({
    browser,
  }) => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain('docs/desktop.png');
    expect(readme).not.toMatch(/Open: the full windowed desktop/);
    const page = await browser.newPage({ viewport: WIDE, colorScheme: 'light' });
    try {
      await openOS(page);
      await page.evaluate(async () => {
        for (const text of ['the staging database lives on port 5433', 'standup moved to 9:30 on Mondays'])
          await window.agentos!.call('memory.remember', { items: [{ text, namespace: 'user' }] });
      });
      await typeCommand(page, 'spawn compute math.evaluate (2+3)*4');
      await expectTerminal(page, /exited with code 0/);
      await page.evaluate(() =>
        window.agentos!.spawn(`say ${'streaming words '.repeat(300)}`, undefined, {
          args: { model: 'deterministic' },
        }),
      );
      await typeCommand(page, 'ps -a');
      await openApp(page, 'Memory');
      await openApp(page, 'Task manager');
      await win(page, 'Task manager').getByRole('checkbox', { name: 'show exited' }).check();
      await page.waitForTimeout(2500); // a few seconds of the tokens-per-second chart
      await page.screenshot({ path: 'docs/desktop.png' });
    } finally {
      await page.close();
    }
  });
});

test.describe('accessibility on a phone', () => {
  for (const scheme of ['light', 'dark'] as const)
    test(`${scheme}: axe-core finds nothing serious in each app, with a notification showing`, async ({
      browser,
    }) => {
      await withPage(browser, NARROW, scheme, async (page) => {
        await page.evaluate(() =>
          (document.querySelector('aos-desktop') as unknown as { notify(t: string): void }).notify(
            'Model deterministic is loaded and ready',
          ),
        );
        await page.addScriptTag({ content: readFileSync('node_modules/axe-core/axe.min.js', 'utf8') });
        for (const app of ['Terminal', 'Task manager', 'Memory', 'Models', 'Tools', 'Settings']) {
          if (app !== 'Terminal') await openApp(page, app);
          const violations = await page.evaluate(async () => {
            const axe = (
              window as unknown as {
                axe: {
                  run(
                    d: Document,
                  ): Promise<{ violations: { id: string; impact: string; nodes: { target: unknown }[] }[] }>;
                };
              }
            ).axe;
            const r = await axe.run(document);
            return r.violations
              .filter((v) => v.impact === 'serious' || v.impact === 'critical')
              .map((v) => `${v.id}: ${JSON.stringify(v.nodes.map((n) => n.target)).slice(0, 200)}`);
          });
          expect(violations, app).toEqual([]);
        }
      });
    });
});
