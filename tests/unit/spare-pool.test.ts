/** The sizing rules of the host tab's pool of ready agent slots (src/shell/spare-pool.ts), on a fake clock. */
import { describe, expect, it } from 'vitest';
import { type PoolClock, peakWithin, SparePool } from '../../src/shell/spare-pool';

class FakeSlot {
  ended = false;
  ready: boolean;
  constructor(
    readonly id: number,
    ready: boolean,
  ) {
    this.ready = ready;
  }
  terminate(): void {
    this.ended = true;
  }
}

/** A clock whose timers run only when the test advances it. */
class FakeClock implements PoolClock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 0;
  now(): number {
    return this.t;
  }
  later(fn: () => void, ms: number): unknown {
    const id = ++this.next;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  cancel(h: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const due = this.timers[0];
      if (!due || due.at > end) break;
      this.timers.shift();
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

function setup(opts: ConstructorParameters<typeof SparePool>[1] = {}, startReady = true) {
  const clock = new FakeClock();
  const made: FakeSlot[] = [];
  const pool = new SparePool(
    () => {
      const s = new FakeSlot(made.length, startReady);
      made.push(s);
      return s;
    },
    {
      min: 1,
      max: 32,
      windowMs: 1000,
      memoryMs: 30_000,
      refillDelayMs: 25,
      settleMs: 150,
      maxSettleMs: 500,
      maxDeferMs: 3000,
      batch: 8,
      ...opts,
    },
    clock,
  );
  return { clock, made, pool };
}

describe('peakWithin', () => {
  it('counts the most takes inside any window', () => {
    expect(peakWithin([], 1000)).toBe(0);
    expect(peakWithin([0, 10, 20], 1000)).toBe(3);
    expect(peakWithin([0, 999, 1000, 1500, 2100], 1000)).toBe(3);
    expect(peakWithin([0, 2000, 4000], 1000)).toBe(1);
  });
});

describe('SparePool', () => {
  it('keeps one spare when nothing was asked', () => {
    const { clock, made, pool } = setup();
    pool.soon(0);
    clock.advance(0);
    expect(pool.size).toBe(1);
    expect(made).toHaveLength(1);
  });

  it('a burst is served from spares first, then by new slots; the pool refills to the burst’s size after it', () => {
    const { clock, made, pool } = setup();
    pool.fill();
    const spare = made[0];
    const taken = Array.from({ length: 8 }, () => pool.take());
    // The spare went to the first take; the other seven were made for their spawns, inside take.
    expect(taken[0]).toBe(spare);
    expect(new Set(taken).size).toBe(8);
    expect(made).toHaveLength(8);
    expect(pool.size).toBe(0);
    // Nothing is made inside the burst's own task: the refill waits for its delay...
    clock.advance(24);
    expect(made).toHaveLength(8);
    // ...then one spare, for the next lone spawn...
    clock.advance(1);
    expect(pool.size).toBe(1);
    // ...and the rest once the burst has settled.
    clock.advance(125);
    expect(pool.size).toBe(8);
    // The next team of eight finds eight ready.
    const again = Array.from({ length: 8 }, () => pool.take());
    expect(again.every((s) => made.indexOf(s as FakeSlot) >= 8 && made.indexOf(s as FakeSlot) < 16)).toBe(
      true,
    );
  });

  it('spawns one after another (60 ms apart) each find a spare made after the one before', () => {
    const { clock, made, pool } = setup();
    pool.fill();
    for (let i = 0; i < 10; i++) {
      const before = made.length;
      pool.take();
      expect(made.length).toBe(before); // served from a spare, nothing made for it
      clock.advance(60);
    }
  });

  it('a burst that keeps coming is topped up to its size no later than maxSettleMs after it began', () => {
    const { clock, pool } = setup({ batch: 32 });
    for (let i = 0; i < 10; i++) {
      pool.take();
      clock.advance(i < 9 ? 50 : 49); // takes 50 ms apart: the settle delay (150 ms) never passes between them
    }
    expect(pool.size).toBeLessThanOrEqual(1); // 499 ms in: only stage one's spare
    clock.advance(1);
    // 500 ms after the first take: stage two, sized by the ten takes so far.
    expect(pool.size).toBe(10);
  });

  it('never holds more than max', () => {
    const { clock, pool } = setup({ max: 5 });
    for (let i = 0; i < 20; i++) pool.take();
    clock.advance(200);
    expect(pool.size).toBe(5);
  });

  it('shrinks back to min once the burst ages out, ending the spares it no longer needs', () => {
    const { clock, made, pool } = setup({ memoryMs: 10_000 });
    for (let i = 0; i < 6; i++) pool.take();
    clock.advance(200);
    expect(pool.size).toBe(6);
    const spares = made.slice(6);
    clock.advance(9000);
    expect(pool.size).toBe(6); // still remembered
    clock.advance(1000);
    expect(pool.size).toBe(1);
    expect(spares.filter((s) => s.ended)).toHaveLength(5);
    // The one kept is the oldest spare (the one ready longest).
    expect(spares[0]!.ended).toBe(false);
  });

  it('drain ends every spare and makes none until the next take', () => {
    const { clock, made, pool } = setup();
    for (let i = 0; i < 3; i++) pool.take();
    clock.advance(200);
    expect(pool.size).toBe(3);
    pool.drain();
    expect(pool.size).toBe(0);
    expect(made.slice(3).every((s) => s.ended)).toBe(true);
    pool.soon(0);
    pool.fill();
    clock.advance(60_000);
    expect(pool.size).toBe(0);
    // The next take finds nothing ready: it gets a slot made for it.
    const before = made.length;
    const s = pool.take();
    expect(made.indexOf(s as FakeSlot)).toBe(before);
    clock.advance(200);
    expect(pool.size).toBeGreaterThanOrEqual(1);
  });

  it('ended spares (their process crashed) are never handed out, and are replaced', () => {
    const { clock, made, pool } = setup();
    for (let i = 0; i < 4; i++) pool.take();
    clock.advance(200);
    const spares = made.slice(4);
    for (const s of spares) s.terminate();
    expect(pool.size).toBe(0);
    const s = pool.take();
    expect(spares).not.toContain(s);
    expect((s as FakeSlot).ended).toBe(false);
    pool.soon(0);
    clock.advance(200);
    expect(pool.size).toBe(5); // the demand (5 takes within the window) still holds
    expect(made.slice(-5).every((x) => !x.ended)).toBe(true);
  });

  it('does not make spares beside slots still starting for a spawn, until they are ready (or too long)', () => {
    const { clock, made, pool } = setup({}, false);
    const taken = Array.from({ length: 4 }, () => pool.take() as FakeSlot);
    clock.advance(500);
    expect(made).toHaveLength(4); // deferred: the four are still starting
    for (const s of taken) s.ready = true;
    clock.advance(25);
    expect(made).toHaveLength(8);
    // A slot that never becomes ready defers the refill at most maxDeferMs.
    const stuck = pool.take() as FakeSlot;
    stuck.ready = false;
    const n = made.length;
    clock.advance(2000);
    expect(made.length).toBe(n);
    clock.advance(1100);
    expect(made.length).toBeGreaterThan(n);
  });

  it('starts at most `batch` spares at once, the next ones once those are ready', () => {
    const { clock, made, pool } = setup({ min: 5, batch: 3 }, false);
    pool.fill();
    expect(made).toHaveLength(3);
    clock.advance(1000);
    expect(made).toHaveLength(3); // none of the three has started yet
    for (const s of made) s.ready = true;
    clock.advance(20);
    expect(made).toHaveLength(5);
    expect(pool.size).toBe(5);
  });

  it('refuses a min above max', () => {
    expect(() => setup({ min: 3, max: 2 })).toThrow(RangeError);
    const { pool } = setup();
    expect(() => pool.configure({ min: -1 })).toThrow(RangeError);
  });
});
