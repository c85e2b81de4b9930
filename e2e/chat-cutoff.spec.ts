/**
 * Why an answer ended early is kept with the chat's thread, so a reload still says it: an
 * answer cut at its length limit (finish_reason 'length'), and one whose page went away while
 * it was being written.
 */
import { expect, type Page, test } from '@playwright/test';
import { openOS } from './os';

const chat = (page: Page) => page.locator('aos-app-chat');
const composer = (page: Page) => chat(page).getByRole('textbox', { name: 'message' });
const notes = (page: Page) => chat(page).locator('.item.assistant').getByRole('note');

async function openChat(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'AgentOS', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Agent chat' }).click();
  await expect(composer(page)).toBeVisible();
}

async function reopen(page: Page): Promise<void> {
  await page.reload();
  await page.waitForFunction(() => !!window.agentos, null, { timeout: 20_000 });
  if ((await chat(page).count()) === 0) await openChat(page);
}

test('an answer cut at its length limit says so, and still says so after a reload', async ({ page }) => {
  await openOS(page);
  // A model whose context window makes the chat agent ask for at most 64 tokens an answer.
  await page.evaluate(async () => {
    await window.agentos!.call('models.load', {
      id: 'short-answers',
      engine: 'deterministic',
      options: { contextWindow: 256 },
    });
    await window.agentos!.call('models.default', { id: 'short-answers' });
  });
  await openChat(page);
  const words = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
  await composer(page).fill(`say ${words}`);
  await composer(page).press('Enter');
  await expect(notes(page)).toHaveText(/cut off: the answer reached its length limit/, { timeout: 30_000 });
  const answer = await chat(page).locator('.item.assistant').last().innerText();
  expect(answer).toContain('word0');
  expect(answer).not.toContain('word119');
  await reopen(page);
  await expect(chat(page).locator('.item.assistant').last()).toContainText('word0');
  await expect(notes(page)).toHaveCount(1);
  await expect(notes(page)).toHaveText(/reached its length limit/);
});

test('an answer whose page went away while it was written says it was cut, once, after the reload', async ({
  page,
}) => {
  await openOS(page);
  // A model that writes 2 tokens a second and an answer of 100 words: the reload comes while it writes.
  await page.evaluate(async () => {
    await window.agentos!.call('models.load', {
      id: 'slow-writer',
      engine: 'deterministic',
      options: { decodeTokensPerSecond: 2 },
    });
    await window.agentos!.call('models.default', { id: 'slow-writer' });
  });
  await openChat(page);
  const words = Array.from({ length: 100 }, (_, i) => `word${i}`).join(' ');
  await composer(page).fill(`say ${words}`);
  await composer(page).press('Enter');
  await expect(chat(page).locator('.item.assistant').last()).toContainText('word0', { timeout: 30_000 });
  await reopen(page);
  await expect(notes(page)).toHaveText(/cut off: the page closed while this answer was being written/);
  await expect(notes(page)).toHaveCount(1);
  // Said once: the agent's own "cut off when its tab closed" is not added as a second notice.
  await expect(chat(page).locator('.item.error')).toHaveCount(0);
  // And it stays said after one more reload (it was saved).
  await reopen(page);
  await expect(notes(page)).toHaveCount(1);
});
