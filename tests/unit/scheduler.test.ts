import { describe, expect, it } from 'vitest';
import { effectivePriority, RunQueue } from '../../src/models/scheduler';

describe('run queue', () => {
  it('pops the most urgent first, FIFO among equals', () => {
    const q = new RunQueue<{ priority: number; enqueuedAt: number; seq: number; name: string }>(1000);
    q.push({ priority: 0, enqueuedAt: 0, seq: 1, name: 'a' });
    q.push({ priority: -5, enqueuedAt: 0, seq: 2, name: 'b' });
    q.push({ priority: 0, enqueuedAt: 0, seq: 3, name: 'c' });
    q.push({ priority: 10, enqueuedAt: 0, seq: 4, name: 'd' });
    expect([q.pop(0), q.pop(0), q.pop(0), q.pop(0), q.pop(0)].map((j) => j?.name)).toEqual([
      'b',
      'a',
      'c',
      'd',
      undefined,
    ]);
  });

  it('ages waiting jobs so low priority is not starved', () => {
    const q = new RunQueue<{ priority: number; enqueuedAt: number; seq: number; name: string }>(100);
    q.push({ priority: 19, enqueuedAt: 0, seq: 1, name: 'old' });
    q.push({ priority: 0, enqueuedAt: 3000, seq: 2, name: 'new' });
    // After 3 s of waiting at 100 ms per step, 19 has aged past 0.
    expect(effectivePriority({ priority: 19, enqueuedAt: 0, seq: 1 }, 3000, 100)).toBe(-11);
    expect(q.pop(3000)?.name).toBe('old');
  });

  it('remove takes matching jobs out', () => {
    const q = new RunQueue<{ priority: number; enqueuedAt: number; seq: number; name: string }>();
    q.push({ priority: 0, enqueuedAt: 0, seq: 1, name: 'a' });
    q.push({ priority: 0, enqueuedAt: 0, seq: 2, name: 'b' });
    expect(q.remove((j) => j.name === 'a').map((j) => j.name)).toEqual(['a']);
    expect(q.size).toBe(1);
  });
});
