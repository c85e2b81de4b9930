/** Session saves: a change is written soon; figures only (token counts, running ↔ waiting) later, or with the next change. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Saver, Session } from '../../src/kernel/session';

afterEach(() => vi.useRealTimers());

describe('Saver', () => {
  it('a later save is pulled in by a change; a sooner one is not pushed back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let writes = 0;
    const s = new Saver(async () => void writes++, 150);
    s.soon(Session.FIGURES_SAVE_MS);
    await vi.advanceTimersByTimeAsync(1000);
    expect(writes).toBe(0); // figures wait
    s.soon(); // a real change: within 150 ms, figures included
    await vi.advanceTimersByTimeAsync(150);
    expect(writes).toBe(1);
    s.soon();
    s.soon(Session.FIGURES_SAVE_MS); // does not delay the change's save
    await vi.advanceTimersByTimeAsync(150);
    expect(writes).toBe(2);
    s.soon(Session.FIGURES_SAVE_MS);
    await vi.advanceTimersByTimeAsync(Session.FIGURES_SAVE_MS);
    expect(writes).toBe(3); // figures alone are saved too, later
  });
});
