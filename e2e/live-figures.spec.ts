/**
 * Live process figures in the task manager: while an agent's answer streams, its row says
 * it is generating and how fast, its token count grows, and the chart shows the live rate —
 * not only when the agent exits.
 */
import { expect, type Page, test } from '@playwright/test';
import { openOS } from './os';

const win = (page: Page, title: string) =>
  page.locator('aos-window').filter({ has: page.getByRole('dialog', { name: title, exact: true }) });

test('the task manager shows tokens and tokens/s growing while an answer streams', async ({ page }) => {
  test.setTimeout(60_000);
  await openOS(page);
  await page.getByRole('button', { name: 'AgentOS', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Task manager' }).click();
  const tasks = win(page, 'Task manager');
  await expect(tasks).toBeVisible();
  // The demo-speed engine (40 tokens/s): 400 words take long enough to watch.
  const pid = await page.evaluate(() =>
    window.agentos!.spawn(`say ${'story '.repeat(400)}`, { tools: [] }, { args: { model: 'deterministic' } }),
  );
  const row = tasks.locator(`tr[data-pid="${pid}"]`);
  await expect(row).toContainText(/generating · \d+ tok\/s/);
  // The Tokens column, found by its header (the table gains columns).
  const headers = await tasks.locator('thead th').allTextContents();
  const col = headers.indexOf('Tokens');
  expect(col).toBeGreaterThan(0);
  const tokens = async () => Number((await row.locator('td').nth(col).textContent())?.trim().split(' ')[0]);
  const first = await tokens();
  await expect.poll(tokens).toBeGreaterThan(first);
  // The chart's figure for "now" moves off zero while it streams.
  await expect(tasks.locator('figcaption')).toContainText(/[1-9]\d* tokens\/s now/);
  // Still running (not exited): the figures came live.
  expect(
    await page.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.state), pid),
  ).not.toBe('exited');
  await page.evaluate((p) => window.agentos!.kill(p), pid);
});

test('with 120 processes the task manager shows each one’s own figures, the rows in view rendered and the rest on scrolling', async ({
  page,
}) => {
  test.setTimeout(300_000);
  await openOS(page);
  await page.getByRole('button', { name: 'AgentOS', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Task manager' }).click();
  const tasks = win(page, 'Task manager');
  await expect(tasks).toBeVisible();
  const N = 120;
  // Each asks the test engine for a different number of tokens, then idles: distinct figures per row.
  const pids = await page.evaluate(async (n) => {
    const source = `export default async (ctx) => {
      const r = await ctx.llm.chat.completions.create({ model: 'deterministic-fast', max_tokens: ctx.args.k,
        messages: [{ role: 'user', content: 'tell me about the kernel' }] });
      await ctx.print('done ' + r.usage.completion_tokens);
      await new Promise(() => {});
    };`;
    const out: number[] = [];
    for (let i = 0; i < n; i += 10)
      out.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(10, n - i) }, (_, j) =>
            window.agentos!.spawn(
              'figures',
              { models: ['deterministic-fast'] },
              { source, args: { k: 1 + ((i + j) % 40) } },
            ),
          ),
        )),
      );
    return out;
  }, N);
  await expect
    .poll(
      () =>
        page.evaluate(
          (ps) =>
            Promise.all(ps.map((p) => window.agentos!.output(p))).then(
              (o) => o.filter((x) => x.startsWith('done')).length,
            ),
          pids,
        ),
      { timeout: 240_000, intervals: [1000] },
    )
    .toBe(N);
  const used = new Map(
    (await page.evaluate(() => window.agentos!.ps())).map((p) => [
      p.pid,
      p.usage.prompt_tokens + p.usage.completion_tokens,
    ]),
  );
  const headers = await tasks.locator('thead th').allTextContents();
  const col = headers.indexOf('Tokens');
  const tokensOf = (pid: number) => tasks.locator(`tr[data-pid="${pid}"] td`).nth(col);
  // The first rows show their own totals (which differ from row to row).
  for (const pid of pids.slice(0, 5))
    await expect(tokensOf(pid)).toHaveText(new RegExp(`^${used.get(pid)}( / \\d+)?$`));
  // Not every one of the 120 rows is in the DOM at once: only those in view and a margin.
  expect(await tasks.locator('tbody tr[data-pid]').count()).toBeLessThan(N);
  // Scrolled to the end, the last processes' rows appear, with their own figures.
  await tasks.locator('aos-app-tasks .scroller').evaluate((el) => {
    el.scrollTop = el.scrollHeight;
  });
  for (const pid of pids.slice(-3))
    await expect(tokensOf(pid)).toHaveText(new RegExp(`^${used.get(pid)}( / \\d+)?$`));
  await page.evaluate((ps) => Promise.all(ps.map((p) => window.agentos!.kill(p, 'KILL'))), pids);
});
