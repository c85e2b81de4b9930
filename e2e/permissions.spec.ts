/** Asking the user, granting and revoking, from the desktop (real Chromium). */
import { expect, test } from '@playwright/test';
import { expectTerminal, openOS, program, typeCommand } from './os';

const ASKER = program(`
  const r = await ctx.requestPermission({ tools: ['memory.recall'] }, 'to look up notes', 20000);
  await ctx.print(r.answer + ' ' + r.capabilities.tools.includes('memory.recall'));
`);

test('an agent asks for a tool: the desktop shows the request; allow once, always, deny', async ({
  page,
}) => {
  await openOS(page);
  for (const [button, expected] of [
    ['Allow once', 'once true'],
    ['Deny', 'deny false'],
    ['Always allow', 'always true'],
  ] as const) {
    const pid = await page.evaluate((src) => window.agentos!.spawn('ask', undefined, { source: src }), ASKER);
    const dialog = page.getByRole('alertdialog', { name: `Agent ${pid} (source) asks for more` });
    await expect(dialog).toBeVisible();
    await expect(dialog).toContainText('to look up notes');
    await expect(dialog).toContainText('memory.recall');
    await dialog.getByRole('button', { name: button }).click();
    await expect(dialog).toBeHidden();
    const out = await page.evaluate(async (p) => {
      await window.agentos!.wait(p, 10_000);
      return window.agentos!.output(p);
    }, pid);
    expect(out).toBe(expected);
  }
  // The audit trail has the request, the answers and the denial.
  const audit = await page.evaluate(() =>
    window.agentos!.call<{ kind: string; text: string }[]>('logs', { kind: 'deny' }),
  );
  expect(audit.some((e) => /the user denied/.test(e.text))).toBe(true);
});

test('grant and revoke from the terminal take effect at once, even mid-stream', async ({ page }) => {
  await openOS(page);
  await page.evaluate(() =>
    window.agentos!.call('models.load', {
      id: 'slow',
      engine: 'deterministic',
      options: { decodeTokensPerSecond: 50 },
    }),
  );
  const pid = await page.evaluate(() =>
    window.agentos!.spawn(`say ${'word '.repeat(400)}`, { models: ['slow'] }, { args: { model: 'slow' } }),
  );
  await expect
    .poll(() => page.evaluate((p) => window.agentos!.output(p).then((o) => o.length), pid))
    .toBeGreaterThan(20);
  await typeCommand(page, `grant ${pid} tools http.fetch`);
  await expectTerminal(page, /granted; \d+ now has tools: .*http\.fetch/);
  await typeCommand(page, `caps ${pid}`);
  await expectTerminal(page, /tools\s+time\.now math\.evaluate http\.fetch/);
  await typeCommand(page, `revoke ${pid} models slow`);
  await expectTerminal(page, /revoked; \d+ now has models: \[\]/);
  const exit = await page.evaluate((p) => window.agentos!.wait(p, 10_000), pid);
  const out = await page.evaluate((p) => window.agentos!.output(p), pid);
  expect(out).toMatch(/EPERM: model slow was revoked/);
  expect(out.split('word').length - 1).toBeLessThan(400);
  expect(exit.exitCode).not.toBe(0);
});
