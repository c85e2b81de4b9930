/** pacer.ts: one clock wakes every paced test-engine stream that is due, not a timer per token per stream. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeterministicEngine } from '../../src/models/engines/deterministic';
import { until } from '../../src/models/engines/pacer';

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('pacer', () => {
  it('50 streams at 20 tokens/s: every token in order, paced, with far fewer timers than tokens', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const engines = Array.from(
      { length: 50 },
      (_, i) => new DeterministicEngine({ id: `e${i}`, decodeTokensPerSecond: 20 }),
    );
    const got: string[][] = engines.map(() => []);
    const runs = engines.map(async (e, i) => {
      // Staggered starts, as agents' requests are.
      await new Promise((r) => setTimeout(r, i));
      for await (const c of e.stream({ messages: [{ role: 'user', content: 'say a b c d e f g h i j' }] }))
        got[i]!.push(c.choices[0]!.delta.content ?? c.choices[0]!.finish_reason ?? '');
    });
    await vi.advanceTimersByTimeAsync(500); // 10 tokens at most (50 ms each), by 50 + 500
    const early = got.map((g) => g.filter((t) => t !== 'stop').length);
    expect(Math.max(...early)).toBeLessThanOrEqual(10);
    await vi.advanceTimersByTimeAsync(2000);
    await Promise.all(runs);
    for (const g of got) expect(g.join('')).toBe('a b c d e f g h i jstop');
    const tokens = 50 * 19;
    // 50 staggered start timers plus the pacer's: a few hundred at most for 950 tokens.
    expect(timers.mock.calls.length).toBeLessThan(tokens / 2);
  });

  it('resolves at once when aborted, and on time otherwise', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const ctl = new AbortController();
    let a = false;
    let b = false;
    void until(performance.now() + 1000, ctl.signal).then(() => (a = true));
    void until(performance.now() + 100).then(() => (b = true));
    await vi.advanceTimersByTimeAsync(50);
    expect([a, b]).toEqual([false, false]);
    ctl.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(a).toBe(true);
    expect(b).toBe(false);
    await vi.advanceTimersByTimeAsync(60);
    expect(b).toBe(true);
  });
});
