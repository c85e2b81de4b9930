/**
 * A permission request of a chat's agent is shown in exactly one place in a tab: inline in its
 * chat ("Allow … for this chat?") while that chat shows the agent's thread, and in the desktop's
 * global prompt otherwise — another thread opened, or the chat window closed — until answered.
 */
import { expect, type Page, test } from '@playwright/test';
import { loopbackText, openOS } from './os';

const chat = (page: Page) => page.locator('aos-app-chat');
const composer = (page: Page) => chat(page).getByRole('textbox', { name: 'message' });
const inline = (page: Page) => chat(page).getByRole('group', { name: 'permission request' });
const global = (page: Page) => page.locator('aos-permission-prompt').getByRole('alertdialog');

test('a chat agent’s permission request shows inline in its open chat, or in the global prompt, never both', async ({
  page,
}) => {
  const { url, close } = await loopbackText('hello from loopback');
  try {
    await openOS(page);
    await page.evaluate(() => window.agentos!.call('models.default', { id: 'deterministic' }));
    await page.getByRole('button', { name: 'AgentOS', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Agent chat' }).click();
    await composer(page).fill(`use http.fetch url=${url}`);
    await composer(page).press('Enter');
    // Its chat is open on its thread: inline only.
    await expect(inline(page)).toContainText('Allow http.fetch for this chat?');
    await expect(global(page)).toHaveCount(0);
    expect(await page.evaluate(() => window.agentos!.call<unknown[]>('permission.pending'))).toHaveLength(1);

    // Another thread in that chat: the request moves to the global prompt.
    await chat(page).getByRole('button', { name: 'New chat' }).click();
    await expect(inline(page)).toHaveCount(0);
    await expect(global(page)).toHaveCount(1);
    await expect(global(page)).toContainText('http.fetch');

    // Back on its thread: inline again, and only there.
    await chat(page).locator('button.thread', { hasText: 'http.fetch' }).click();
    await expect(inline(page)).toHaveCount(1);
    await expect(global(page)).toHaveCount(0);

    // The chat window closed: the global prompt shows it, and answering there lets the agent on.
    await page.getByRole('button', { name: 'Close Agent chat' }).click();
    await expect(chat(page)).toHaveCount(0);
    await expect(global(page)).toHaveCount(1);
    await global(page).getByRole('button', { name: 'Allow once' }).click();
    await expect(global(page)).toHaveCount(0);
    await expect
      .poll(() => page.evaluate(() => window.agentos!.call<unknown[]>('permission.pending')))
      .toHaveLength(0);
  } finally {
    close();
  }
});
