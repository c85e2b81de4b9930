/** Waiting for a real reload: every page of the context closed, the kernel's SharedWorker ended. */
import { expect, type Page } from '@playwright/test';

/** Resolves once the browser has no shared worker left (the kernel ends with its last tab). */
export async function kernelGone(page: Page): Promise<void> {
  const cdp = await page.context().browser()!.newBrowserCDPSession();
  await expect
    .poll(
      async () =>
        ((await cdp.send('Target.getTargets')) as { targetInfos: { type: string }[] }).targetInfos.filter(
          (t) => t.type === 'shared_worker',
        ).length,
      { timeout: 30_000 },
    )
    .toBe(0);
  await cdp.detach();
}
