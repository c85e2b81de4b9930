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
