/**
 * An agent's output is kept (its tail) but shown live only up to a rate (limiter.ts liveOutput):
 * a loop of 1 MB writes must not have the kernel clone megabytes into every tab.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGENT_CAPS } from '../../src/kernel/access-control';
import { LIVE_OUTPUT_BYTES_PER_SEC, Limiter } from '../../src/kernel/limiter';
import { Process, ProcessTable } from '../../src/kernel/process';
import { boot } from './harness';

const proc = () =>
  new Process({
    pid: 9,
    ppid: 0,
    task: 't',
    program: 'p',
    source: null,
    args: null,
    priority: 0,
    capabilities: DEFAULT_AGENT_CAPS,
    restart: 'never',
  });

describe('live output', () => {
  it('one write is shown as its kept tail; past the rate nothing more is shown live but a note, once a second', () => {
    const records: string[] = [];
    const l = new Limiter({ procs: new ProcessTable(), log: (_p, _k, text) => records.push(text) });
    const p = proc();
    const keepChars = l.outputKeep(p) / 2;
    // A 1 MB write: only the tail the kernel keeps goes to the tabs.
    expect(l.liveOutput(p, 'x'.repeat(1_000_000), 0)?.length).toBe(keepChars);
    // Keep writing at time 0: the burst (4 s' worth) runs out, then a note, then nothing for a second.
    const shown: (string | null)[] = [];
    for (let i = 0; i < 100; i++) shown.push(l.liveOutput(p, 'y'.repeat(keepChars), 0));
    const firstNull = shown.indexOf(null);
    expect(firstNull).toBeGreaterThan(0);
    const bytesShown = shown.slice(0, firstNull).reduce((n, s) => n + 2 * (s?.length ?? 0), 0);
    expect(bytesShown).toBeLessThanOrEqual(4 * LIVE_OUTPUT_BYTES_PER_SEC + 2 * keepChars);
    expect(shown.filter((s) => s?.includes('not shown live')).length).toBe(1);
    expect(records.join('\n')).toMatch(/not shown live/);
    // Later, live output resumes, saying how much was not shown.
    const later = l.liveOutput(p, 'z', 5000);
    expect(later).toMatch(/of output not shown live.*\nz$/s);
    expect(l.liveOutput(p, 'z', 5001)).toBe('z');
  });

  it('through the kernel: the tail is kept whatever was shown live', async () => {
    const h = await boot({
      printer: async (ctx) => {
        for (let i = 0; i < 40; i++) await ctx.print(`${'.'.repeat(200_000)}#${i}`);
      },
    });
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 't',
      options: { program: 'printer' },
    });
    await h.user.call('wait', { pid, timeoutMs: 20_000 });
    const live = h.events.filter((e) => e.type === 'output' && e.pid === pid);
    const liveBytes = live.reduce((n, e) => n + (e.type === 'output' ? 2 * e.data.length : 0), 0);
    expect(liveBytes).toBeLessThan(40 * 2 * 200_000); // not everything was broadcast
    expect((await h.user.call<string>('output', { pid })).includes('#39')).toBe(true); // the tail is the latest
    h.close();
  });
});
