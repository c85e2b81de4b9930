/** The desktop as a new user meets it: open the URL, use the terminal. */
import { expect, test } from '@playwright/test';
import { expectTerminal, openOS, typeCommand } from './os';

test('a new user opens the URL, runs spawn "say hello" and sees the agent’s streamed output', async ({
  page,
}) => {
  await page.goto('/');
  // The desktop paints before the kernel is ready.
  await expect(page.getByRole('dialog', { name: 'Terminal' })).toBeVisible();
  await expect(page.getByRole('status', { name: 'kernel status' })).toContainText('ready', {
    timeout: 20_000,
  });
  await typeCommand(page, 'spawn "say hello"');
  await expectTerminal(page, /\[1\] started/);
  await expect(page.locator('aos-terminal .line.proc[data-pid="1"]')).toHaveText('[1] hello\n');
  await expectTerminal(page, '[1] exited with code 0');
  await page.screenshot({ path: 'test-results/artifacts/desktop.png' });
});

test('terminal: help, ps, nice, kill, wait, bad input', async ({ page }) => {
  await openOS(page);
  await typeCommand(page, 'help');
  for (const cmd of ['spawn', 'ps', 'kill', 'wait', 'suspend', 'resume', 'nice', 'models'])
    await expectTerminal(page, cmd);
  // An agent in chat mode stays alive after its first answer (it waits for the next message),
  // so nice/ps/kill below never race a quick exit.
  const pid = await page.evaluate(() =>
    window.agentos!.spawn('write a long essay about kernels', undefined, {
      priority: 5,
      args: { chat: true },
    }),
  );
  expect(pid).toBe(1);
  await typeCommand(page, 'nice 1 -3');
  await expectTerminal(page, 'priority of 1 is now -3');
  await typeCommand(page, 'ps');
  await expect(page.locator('aos-terminal .line.out').last()).toContainText(/1\s+0\s+(running|waiting)\s+-3/);
  await typeCommand(page, 'kill 1');
  await expectTerminal(page, 'asked 1 to exit (TERM); kill -9 1 ends it at once');
  await typeCommand(page, 'wait 1');
  await expectTerminal(page, '[1] exited with code 143');
  await typeCommand(page, 'kill 99');
  await expectTerminal(page, 'ESRCH: no process 99');
  await typeCommand(page, 'nice 1 -99');
  await expectTerminal(
    page,
    'EINVAL: priority must be a whole number from -20 (most urgent) to 19 (least), not "-99"',
  );
  await typeCommand(page, 'frobnicate');
  await expectTerminal(page, 'frobnicate: command not found');
  await typeCommand(page, 'models');
  await expectTerminal(page, 'test engine (deterministic, not a language model)');
});

test('the dedicated-Worker kernel: forced by ?kernel=dedicated, and chosen when SharedWorker is missing', async ({
  context,
}) => {
  const forced = await context.newPage();
  await openOS(forced, '?kernel=dedicated');
  expect(await forced.evaluate(() => window.agentos!.mode)).toBe('dedicated');
  const pid = await forced.evaluate(() => window.agentos!.spawn('say dedicated works'));
  expect(await forced.evaluate((p) => window.agentos!.wait(p, 10_000).then((e) => e.exitCode), pid)).toBe(0);
  expect(await forced.evaluate((p) => window.agentos!.output(p), pid)).toBe('dedicated works\n');
  await expect(forced.getByRole('status', { name: 'kernel status' })).toContainText('dedicated worker');

  const noShared = await context.newPage();
  await noShared.addInitScript(() => {
    // As on Chrome for Android.
    delete (globalThis as { SharedWorker?: unknown }).SharedWorker;
  });
  await openOS(noShared);
  expect(await noShared.evaluate(() => window.agentos!.mode)).toBe('dedicated');
  // Its own kernel: it does not see the other tab's processes.
  expect(await noShared.evaluate(() => window.agentos!.ps().then((ps) => ps.length))).toBe(0);
  const pid2 = await noShared.evaluate(() => window.agentos!.spawn('say fallback'));
  expect(await noShared.evaluate((p) => window.agentos!.wait(p, 10_000).then((e) => e.exitCode), pid2)).toBe(
    0,
  );
});

test('WebGPU is reachable from the kernel worker (SwiftShader adapter)', async ({ page }) => {
  await openOS(page);
  const gpu = await page.evaluate(() =>
    window.agentos!.call<{ available: boolean; adapter: string | null }>('debug.gpu'),
  );
  expect(gpu.available).toBe(true);
  expect(gpu.adapter).toBeTruthy();
});
