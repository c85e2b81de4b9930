/**
 * A full disk, for real: Chromium's profile on a small tmpfs, so IndexedDB
 * fails with its own QuotaExceededError once the disk fills. (DevTools' quota
 * override has no effect in this Chromium.) Mounting needs root, which CI has.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, expect, test } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.mjs';
import { openOS } from './os';

function mountSmallDisk(mb: number): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'agentos-smalldisk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
}

test('a full storage quota is ENOSPC; what was stored stays intact and the kernel keeps serving', async ({
  baseURL,
}) => {
  test.setTimeout(120_000);
  const disk = mountSmallDisk(48);
  test.skip(!disk, 'needs root to mount a small tmpfs for the browser profile (CI runs as root)');
  const context = await chromium.launchPersistentContext(join(disk!, 'profile'), {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    baseURL: baseURL!,
  });
  try {
    const page = await context.newPage();
    await openOS(page);
    const r = await page.evaluate(async () => {
      const k = window.agentos!;
      await k.call('memory.remember', { items: [{ text: 'before the disk filled up' }] });
      // Random text: IndexedDB compresses its values, so repeated characters would never fill the disk.
      const noise = () => {
        const bytes = crypto.getRandomValues(new Uint8Array(45_000));
        return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
      };
      let code = '';
      let message = '';
      let stored = 1;
      for (let i = 0; i < 2000 && !code; i++) {
        try {
          await k.call('memory.remember', {
            items: Array.from({ length: 5 }, (_, j) => ({ text: `${i}-${j} ${noise()}` })),
          });
          stored += 5;
        } catch (e) {
          code = (e as { code: string }).code;
          message = (e as Error).message;
        }
      }
      const storage = await k.call<{ memories: number; indexed: number; usage: number; quota: number }>(
        'memory.storage',
        {},
      );
      const early = await k.call<{ text: string }[]>('memory.recall', {
        query: 'before the disk filled up',
        k: 1,
      });
      return { code, message, stored, storage, early: early[0]?.text, alive: await k.call('nop') };
    });
    expect(r.code, r.message).toBe('ENOSPC');
    expect(r.message).toContain('storage quota reached');
    expect(r.stored).toBeGreaterThan(20);
    // The failed batch left nothing half-written: store and index agree and hold exactly what was acknowledged.
    expect(r.storage.memories).toBe(r.stored);
    expect(r.storage.indexed).toBe(r.storage.memories);
    expect(r.early).toBe('before the disk filled up');
    expect(r.alive).toBeNull();
  } finally {
    await context.close();
    try {
      execFileSync('umount', [disk!]);
    } catch {
      /* best effort */
    }
    rmSync(disk!, { recursive: true, force: true });
  }
});
