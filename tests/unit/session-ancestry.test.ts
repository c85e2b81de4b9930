/**
 * Process ancestry across a closing and reopening of the OS (session.ts, fake-indexeddb): an
 * orphan stays the kernel's and is not started again by itself; lineage (what per-tree process
 * limits count) and the page a tree belongs to survive.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { bootKernel } from '../../src/kernel/boot';
import { type SavedState, STATE_KEY } from '../../src/kernel/session';
import { openStore } from '../../src/memory/store';
import { boot } from './harness';

const until = async (ok: () => Promise<boolean>) => {
  for (let i = 0; i < 500 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('ancestry across a reopening', () => {
  it('orphans stay adopted and are not restarted; lineage and page survive, so tree limits still count them', async () => {
    // The first session: root (limits.procs 4) starts mid; mid starts two idle children and exits.
    const h = await boot(
      {
        root: async (ctx) => {
          const mid = await ctx.spawn('mid', undefined, { program: 'mid' });
          await ctx.wait(mid);
          await ctx.bus.recv({ timeoutMs: 600_000 });
        },
        mid: async (ctx) => {
          await ctx.spawn('a', undefined, { program: 'idle' });
          await ctx.spawn('b', undefined, { program: 'idle' });
        },
        idle: (ctx) => ctx.bus.recv({ timeoutMs: 600_000 }),
      },
      { persist: true },
    );
    await h.kernel.ready;
    const { pid: root } = await h.user.call<{ pid: number }>('spawn', {
      task: 'root',
      permissions: { limits: { procs: 4 } },
      options: { program: 'root' },
    });
    const orphans = () => h.kernel.procs.all().filter((p) => p.alive && p.info.adoptedFrom !== undefined);
    await until(async () => orphans().length === 2);
    expect(orphans().length).toBe(2);
    const mid = orphans()[0]!.info.adoptedFrom!;
    await h.kernel.flushState();
    // What was saved: the orphans' lineage (mid, then root) and the tab's page.
    const db = await openStore();
    const saved = (await db.get('kv', STATE_KEY)) as SavedState;
    // The OS closes: this kernel saves nothing more (its agents' ends are not part of the test).
    Object.assign(h.kernel.session!, { soon() {}, flush: async () => {} });
    h.close();
    const savedOrphans = saved.procs.filter((r) => r.info.adoptedFrom === mid);
    expect(savedOrphans.map((r) => r.lineage)).toEqual([
      [mid, root],
      [mid, root],
    ]);
    expect(savedOrphans.every((r) => r.page === 'desktop:test-tab')).toBe(true);

    // A saved state may also hold a child whose parent is gone and was never adopted (an older
    // version; a parent that opted out of moving): it is adopted on reading.
    saved.procs.push({
      info: {
        ...saved.procs.find((r) => r.info.pid === root)!.info,
        pid: 900,
        ppid: 901,
        task: 'child of a missing parent',
        state: 'running',
        restart: 'on-host-loss',
      },
      source: null,
      args: null,
      output: '',
      lineage: [901],
    });
    await db.put('kv', saved, STATE_KEY);

    // The next session.
    const k = bootKernel({ persist: true, locks: null });
    await k.ready;
    const rootP = k.procs.get(root);
    expect(rootP.alive).toBe(true); // the user started it: it resumes
    for (const r of savedOrphans) {
      const p = k.procs.get(r.info.pid);
      expect(p.info.ppid).toBe(0);
      expect(p.info.adoptedFrom).toBe(mid);
      // Not started without the user: restartable, shown, not queued.
      expect(p.info.state).toBe('exited');
      expect(p.info.restartable).toBe(true);
      expect(p.lineage).toEqual([mid, root]);
      expect(p.spawnPage).toBe('desktop:test-tab');
    }
    const stray = k.procs.get(900);
    expect(stray.info.ppid).toBe(0);
    expect(stray.info.adoptedFrom).toBe(901);
    expect(stray.info.state).toBe('exited');
    // The user restarts both orphans: they count in root's tree again (root + 2 of its 4; mid is gone).
    for (const r of savedOrphans) k.life.restart(k.procs.get(r.info.pid));
    k.limiter.checkSpawn(rootP); // the fourth fits
    rootP.info.capabilities = { ...rootP.info.capabilities, limits: { procs: 3 } }; // as the user revoking down to 3
    expect(() => k.limiter.checkSpawn(rootP)).toThrow(/EAGAIN.*has 3 processes.*limits\.procs 3/);
  });
});
