/** Helpers for driving the OS in a page: open it, and run code against the tab's kernel client. */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { expect, type Page } from '@playwright/test';
import type { KernelClient } from '../src/shell/kernel-client';
import { AGENT_CSP } from '../src/workers/agent-policy';

declare global {
  interface Window {
    agentos?: KernelClient;
  }
}

/** Opens the OS as a returning user (the first-visit welcome app stays closed) unless `firstVisit`. */
export async function openOS(page: Page, query = '', opts: { firstVisit?: boolean } = {}): Promise<void> {
  if (!opts.firstVisit) await page.addInitScript(() => localStorage.setItem('agentos.welcome', 'done'));
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

/** The production build served from a copy, so a test can publish a "new version" of it. */
export async function serveCopyOfDist(
  edit?: (dir: string) => void,
): Promise<{ origin: string; dir: string; close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'agentos-dist-'));
  cpSync('dist', dir, { recursive: true, filter: (src) => !/ort-wasm|\.map$/.test(src) });
  edit?.(dir);
  const types: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.mjs': 'text/javascript',
    '.css': 'text/css',
    '.wasm': 'application/wasm',
    '.json': 'application/json',
    '.webmanifest': 'application/manifest+json',
    '.png': 'image/png',
    '.svg': 'image/svg+xml',
  };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = join(dir, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dir) || !existsSync(file) || statSync(file).isDirectory())
      file = join(dir, 'index.html');
    res.setHeader('content-type', types[extname(file)] ?? 'application/octet-stream');
    res.setHeader('cache-control', 'no-cache');
    if (/agent\.worker-/.test(file)) res.setHeader('content-security-policy', AGENT_CSP);
    if (/^\/(embed|assets)\//.test(path)) res.setHeader('access-control-allow-origin', '*');
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://localhost:${port}`,
    dir,
    close: () => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A real HTTP server on loopback answering every request with `body` (CORS open), as a tool would fetch. */
export async function loopbackText(body: string): Promise<{ url: string; close: () => void }> {
  const server = createServer((_req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/page`;
  return { url, close: () => server.close() };
}

/** Waits until the kernel's SharedWorker has ended (it ends with its last tab). */
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

/** The page's WebGPU adapter, if any, and whether it is a software one (SwiftShader, fallback). */
export async function webgpuAdapter(page: Page): Promise<{ software: boolean; arch: string } | null> {
  return page.evaluate(async () => {
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    const a = (await gpu?.requestAdapter().catch(() => null)) as {
      isFallbackAdapter?: boolean;
      info?: { vendor?: string; architecture?: string; isFallbackAdapter?: boolean };
    } | null;
    if (!a) return null;
    const arch = `${a.info?.vendor ?? ''} ${a.info?.architecture ?? ''}`;
    return {
      software: !!(a.isFallbackAdapter || a.info?.isFallbackAdapter || /swiftshader/i.test(arch)),
      arch,
    };
  });
}
