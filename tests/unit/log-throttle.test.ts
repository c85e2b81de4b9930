/**
 * Records an agent triggers in a loop are kept at a rate (log-throttle.ts): each episode is
 * written to IndexedDB and kept across sessions, so denied calls must not fill the disk.
 */
import { describe, expect, it } from 'vitest';
import { LogThrottle } from '../../src/kernel/log-throttle';
import { boot } from './harness';

describe('the log against an agent', () => {
  it('at most perSecond records per process and kind a second; the next kept one counts the rest', () => {
    const t = new LogThrottle(3);
    const kept = Array.from({ length: 10 }, (_, i) => t.admit(5, 'deny', `d${i}`, 0));
    expect(kept).toEqual(['d0', 'd1', 'd2', null, null, null, null, null, null, null]);
    expect(t.admit(6, 'deny', 'other agent', 0)).toBe('other agent'); // per process
    expect(t.admit(5, 'exit', 'exit', 0)).toBe('exit'); // only the kinds an agent triggers at will
    expect(t.admit(0, 'deny', 'the kernel', 0)).toBe('the kernel'); // never the kernel's own
    expect(t.admit(5, 'deny', 'later', 1000)).toBe('later (and 7 more like it left out of the log)');
  });

  it('through the kernel: 2,000 denied tool calls leave a handful of records, and the agent is still answered', async () => {
    const h = await boot({
      prober: async (ctx) => {
        let denied = 0;
        for (let i = 0; i < 2000; i++)
          await ctx.syscall('tools.call', { name: 'not.granted', args: {} }).catch((e: { code: string }) => {
            if (e.code === 'EPERM') denied++;
          });
        await ctx.print(String(denied));
      },
    });
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 't',
      options: { program: 'prober' },
    });
    await h.user.call('wait', { pid, timeoutMs: 60_000 });
    expect(await h.user.call<string>('output', { pid })).toBe('2000');
    const denies = await h.user.call<unknown[]>('logs', { pid, kind: 'deny' });
    expect(denies.length).toBeGreaterThan(0);
    expect(denies.length).toBeLessThan(1000); // 2,000 calls, 20 a second kept: half would take 50 s
    h.close();
  });
});
