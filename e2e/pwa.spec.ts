/** The installed-app use: manifest, installability, offline start, and an update that waits for the user. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, expect, test } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.mjs';
import { openOS, serveCopyOfDist } from './os';

/** The first visit installs the service worker; a reload puts the page under its control. */
async function waitForController(page: import('@playwright/test').Page): Promise<void> {
  await page.evaluate(() => navigator.serviceWorker.ready);
  if (!(await page.evaluate(() => !!navigator.serviceWorker.controller))) {
    await page.reload();
    await page.waitForFunction(() => !!window.agentos && !!navigator.serviceWorker.controller, null, {
      timeout: 20_000,
    });
  }
}

test('the manifest and service worker meet Chromium’s installability criteria', async ({ baseURL }) => {
  // A real profile: Playwright's default contexts are incognito, where nothing is installable.
  const dir = mkdtempSync(join(tmpdir(), 'agentos-profile-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    ...(baseURL ? { baseURL } : {}),
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await openOS(page);
  await page.evaluate(() => navigator.serviceWorker.ready);
  const cdp = await page.context().newCDPSession(page);
  const manifest = (await cdp.send('Page.getAppManifest')) as {
    url: string;
    errors: unknown[];
    data?: string;
  };
  expect(manifest.url).toMatch(/manifest\.webmanifest$/);
  expect(manifest.errors).toEqual([]);
  const m = JSON.parse(manifest.data ?? '{}');
  expect(m).toMatchObject({ name: 'AgentOS', display: 'standalone', start_url: '/' });
  expect(m.icons.map((i: { sizes: string }) => i.sizes)).toEqual(
    expect.arrayContaining(['192x192', '512x512']),
  );
  const inst = (await cdp.send('Page.getInstallabilityErrors')) as {
    installabilityErrors: { errorId: string }[];
  };
  expect(inst.installabilityErrors).toEqual([]);
  // Every icon the manifest names is served, as a PNG.
  for (const icon of m.icons as { src: string }[]) {
    const res = await page.request.get(icon.src);
    expect(res.headers()['content-type']).toBe('image/png');
  }
  await context.close();
  rmSync(dir, { recursive: true, force: true });
});

test('after one visit the OS opens offline, kernel and agents included; model files stay out of the precache', async ({
  page,
  context,
}) => {
  await openOS(page);
  await waitForController(page);
  await page.waitForFunction(
    () => document.documentElement.dataset.offlineReady === 'true' || !!navigator.serviceWorker.controller,
  );
  const precached = await page.evaluate(async () => {
    const names = await caches.keys();
    const urls: string[] = [];
    for (const n of names)
      for (const r of await (await caches.open(n)).keys()) urls.push(new URL(r.url).pathname);
    return { names, urls };
  });
  expect(precached.urls.some((u) => /\/assets\/kernel\.worker-/.test(u))).toBe(true);
  expect(precached.urls.some((u) => /ort-wasm|\/models\//.test(u))).toBe(false);

  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => !!window.agentos, null, { timeout: 20_000 });
  await expect(page.getByRole('textbox', { name: 'command' })).toBeVisible();
  const r = await page.evaluate(async () => {
    const k = window.agentos!;
    const pid = await k.spawn('say offline hello', undefined, { args: { model: 'deterministic-fast' } });
    return { exit: await k.wait(pid, 10_000), out: await k.output(pid) };
  });
  expect(r.exit.exitCode).toBe(0);
  expect(r.out).toBe('offline hello\n');
  await context.setOffline(false);
});

test('a new version waits for the user: the taskbar offers it, nothing reloads on its own', async ({
  page,
}) => {
  const site = await serveCopyOfDist();
  try {
    await page.goto(`${site.origin}/`);
    await page.waitForFunction(() => !!window.agentos, null, { timeout: 20_000 });
    await waitForController(page);
    const pid = await page.evaluate(() =>
      window.agentos!.spawn(`say ${'word '.repeat(200)}`, undefined, { args: { model: 'deterministic' } }),
    );
    // Publish a new version, and let the page's next update check find it.
    writeFileSync(
      join(site.dir, 'sw.js'),
      `${readFileSync(join(site.dir, 'sw.js'), 'utf8')}\n// next version\n`,
    );
    let loads = 0;
    page.on('load', () => loads++);
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.update());
    const button = page.getByRole('button', { name: /Update ready/ });
    await expect(button).toBeVisible({ timeout: 20_000 });
    await expect(button).toHaveAttribute('title', /agent/);
    // Not applied on its own: no reload, and the agent keeps running in this page.
    await page.waitForTimeout(1000);
    expect(loads).toBe(0);
    expect(
      await page.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.state), pid),
    ).toMatch(/running|waiting/);
    // Accepting it reloads into the new version.
    await Promise.all([page.waitForEvent('load'), button.click()]);
    await page.waitForFunction(() => !!window.agentos, null, { timeout: 20_000 });
    expect(
      await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.waiting),
    ).toBeFalsy();
  } finally {
    site.close();
  }
});
