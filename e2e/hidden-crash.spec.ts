/**
 * Agent frames that crash in a hidden tab (issue 13, section 2): the host tab's checks of its
 * frames are paced by the kernel's timer (`host.probe`), so they run while the tab is in the
 * background, where Chromium throttles the page's own timers (to once a minute after five
 * minutes). Headless Chromium keeps every page visible (bringing another to the front, minimising
 * the window: still 'visible'; CDP virtual time paused stops its messages too), so the test does
 * what throttling does, only more: from a point on, no timer callback of the host page runs (every
 * setTimeout/setInterval callback is wrapped, from before the page's own scripts, and dropped once
 * `__timersStopped` is set); its messages still run, as in a hidden tab. A check that waited on
 * this page's timers would never come: the agent would then end only by the kernel's heartbeat,
 * as unresponsive, instead of by the crash path.
 */
import { type BrowserContext, expect, type Page, test } from '@playwright/test';
import { openOS } from './os';

let context: BrowserContext;
let host: Page;
let desk: Page;

test.beforeAll(async ({ browser }) => {
  context = await browser.newContext();
  host = await context.newPage();
  await host.addInitScript(() => {
    const w = window as unknown as { __timersStopped: boolean };
    w.__timersStopped = false;
    for (const name of ['setTimeout', 'setInterval'] as const) {
      const real = window[name].bind(window) as (cb: unknown, ms?: number, ...a: unknown[]) => number;
      (window as unknown as Record<string, unknown>)[name] = (cb: unknown, ms?: number, ...a: unknown[]) =>
        real(
          typeof cb === 'function'
            ? (...x: unknown[]) => {
                if (!w.__timersStopped) (cb as (...y: unknown[]) => void)(...x);
              }
            : cb,
          ms,
          ...a,
        );
    }
  });
  await openOS(host);
  desk = await context.newPage();
  await openOS(desk, '?host=0'); // the user's desktop hosts no agents: they all go to `host`
});

test.afterAll(async () => {
  await context?.close();
});

const VICTIM =
  'export default async (ctx) => { for (;;) { await ctx.syscall("getpid", {}); await new Promise((r) => setTimeout(r, 50)); } }';

const stateOf = (pid: number) =>
  desk.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)), pid);

test('a crash of agent frames in a tab whose timers are stopped (as in a hidden tab) is noticed and judged as a crash', async () => {
  test.setTimeout(120_000);
  const hostTab = await host.evaluate(() => window.agentos!.tabId);
  const pid = await desk.evaluate(
    (src) => window.agentos!.spawn('victim', undefined, { source: src, restart: 'never' }),
    VICTIM,
  );
  await expect.poll(async () => (await stateOf(pid))?.state).toMatch(/running|waiting/);
  expect((await stateOf(pid))?.hostTab).toBe(hostTab);

  // No timer of the host page fires any more (the worst of background throttling, without waiting minutes).
  await host.evaluate(() => {
    const w = window as unknown as { __timersStopped: boolean; fired: boolean };
    w.__timersStopped = true;
    w.fired = false;
    setTimeout(() => {
      w.fired = true;
    }, 50);
  });
  await desk.waitForTimeout(1500);
  expect(await host.evaluate(() => (window as unknown as { fired: boolean }).fired)).toBe(false);
  // The page still runs its messages: the kernel still reaches it.
  expect(await host.evaluate(() => window.agentos!.call('getpid', {}))).toEqual({ pid: 0, ppid: 0 });

  // Every agent frame of that tab shares one process: kill it.
  const frame = host.frames().find((f) => f.url() === 'about:srcdoc');
  expect(frame).toBeTruthy();
  const frameCdp = await context.newCDPSession(frame!);
  await frameCdp.send('Page.crash').catch(() => {}); // no answer: its process is gone

  // Judged by the crash path (alone in the process: blamed, 137), not ended by the kernel's heartbeat.
  const exit = await desk.evaluate((p) => window.agentos!.wait(p, 60_000), pid);
  expect(exit.exitCode).toBe(137);
  expect(exit.exitReason).toMatch(/sandbox process/);
  expect(exit.exitReason).not.toMatch(/unresponsive|heartbeat/);
  const crashLog = await desk.evaluate(() =>
    window.agentos!.call<{ text: string }[]>('logs', { pid: 0, kind: 'crash', limit: 100 }),
  );
  expect(crashLog.some((r) => r.text.includes(hostTab.slice(0, 8)))).toBe(true);
  // The hidden tab and the kernel carry on.
  expect(await desk.evaluate(() => window.agentos!.call('getpid', {}))).toEqual({ pid: 0, ppid: 0 });
});
