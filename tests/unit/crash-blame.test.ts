import { describe, expect, it } from 'vitest';
import { CrashBlame, MAX_AMBIGUOUS, MAX_STRIKES } from '../../src/kernel/crash-blame';

describe('CrashBlame', () => {
  it('blames the only agent a crash took', () => {
    const b = new CrashBlame();
    expect(b.crashed([7])).toEqual({ culprit: 7, innocent: [], outOfStrikes: [] });
  });

  it('suspects everyone a crash took together, then blames the one suspect the next crash takes', () => {
    const b = new CrashBlame();
    const first = b.crashed([1, 2, 3]);
    expect(first.culprit).toBeNull();
    expect(first.innocent).toEqual([1, 2, 3]);
    expect([1, 2, 3].every((p) => b.isSuspect(p))).toBe(true);
    // Spread over tabs, the culprit (2) brings down a process with an unsuspected agent (9).
    const second = b.crashed([2, 9]);
    expect(second).toEqual({ culprit: 2, innocent: [9], outOfStrikes: [] });
    expect(b.isSuspect(1)).toBe(false);
  });

  it('narrows the suspects to those the next crash took', () => {
    const b = new CrashBlame();
    b.crashed([1, 2, 3, 4]);
    expect(b.crashed([2, 3, 8]).culprit).toBeNull();
    expect(b.isSuspect(1)).toBe(false);
    expect(b.isSuspect(8)).toBe(false);
    expect(b.crashed([3, 5]).culprit).toBe(3);
  });

  it('stops restarting suspects that cannot be told apart after MAX_STRIKES crashes', () => {
    const b = new CrashBlame();
    let v = b.crashed([1, 2]);
    for (let i = 1; i < MAX_STRIKES; i++) {
      expect(v.outOfStrikes).toEqual([]);
      v = b.crashed([1, 2]);
    }
    expect(v.outOfStrikes).toEqual([1, 2]);
    expect(v.innocent).toEqual([]);
  });

  it('clears a group once one suspect is left alone: an exit is no evidence', () => {
    const b = new CrashBlame();
    b.crashed([1, 2]);
    b.forget(1);
    expect(b.isSuspect(2)).toBe(false);
    // A new crash with 2 and a newcomer is ambiguous again, not blamed on 2.
    expect(b.crashed([2, 5]).culprit).toBeNull();
  });

  it('a restarted suspect that runs long enough without a crash is cleared; one still running is not', () => {
    const b = new CrashBlame(1000);
    b.crashed([1, 2, 3]);
    b.started(1, 0);
    b.started(2, 500);
    expect(b.sweep(900)).toBe(100); // 1 clears at 1000
    expect(b.sweep(1000)).toBe(500);
    expect(b.isSuspect(1)).toBe(false);
    expect(b.isSuspect(2)).toBe(true);
    // 3 never ran: still a suspect, and left last it is not cleared for that.
    expect(b.sweep(1500)).toBeNull();
    expect(b.isSuspect(2)).toBe(false);
    expect(b.isSuspect(3)).toBe(true);
    // A crash that takes it (alone among suspects) blames it.
    expect(b.crashed([3, 9]).culprit).toBe(3);
    // An agent started while not a suspect has no clock.
    b.started(4, 0);
    expect(b.sweep(10_000)).toBeNull();
  });

  it('a bomb slower than the clearing: cleared each time, it is still stopped after MAX_AMBIGUOUS crashes without a culprit', () => {
    const b = new CrashBlame(1000);
    let now = 0;
    let v = b.crashed([1, 2]);
    for (let i = 1; i < MAX_AMBIGUOUS; i++) {
      expect(v.outOfStrikes).toEqual([]);
      // Both run long enough to be cleared (one per tab), then the bomb (1) goes off beside a newcomer.
      b.started(1, now);
      b.started(2, now);
      now += 2000;
      b.sweep(now);
      expect(b.isSuspect(1)).toBe(false);
      v = b.crashed([1, 10 + i]);
    }
    expect(v.outOfStrikes).toEqual([1]);
    // The newcomers were each lost once: not struck out.
    expect(v.innocent).toEqual([10 + MAX_AMBIGUOUS - 1]);
  });
});
