/** Helpers for driving the OS in a page: open it, and run code against the tab's kernel client. */
import { expect, type Page } from '@playwright/test';
import type { KernelClient } from '../src/shell/kernel-client';

declare global {
  interface Window {
    agentos?: KernelClient;
  }
}

export async function openOS(page: Page, query = ''): Promise<void> {
  await page.goto(`/${query}`);
  await page.waitForFunction(() => !!window.agentos, null, { timeout: 20_000 });
}

/** An agent program given as ES module source, as a user would paste it. */
export const program = (body: string): string => `export default async function main(ctx) {\n${body}\n}`;

export async function expectTerminal(page: Page, text: string | RegExp): Promise<void> {
  await expect(page.locator('aos-terminal [role=log]')).toContainText(text);
}

export async function typeCommand(page: Page, line: string): Promise<void> {
  const input = page.getByRole('textbox', { name: 'command' });
  await input.fill(line);
  await input.press('Enter');
}
