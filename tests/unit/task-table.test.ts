/**
 * The task manager's table with hundreds of processes: 'proc' events and full ps answers give
 * the right live figures for every process (tasks/live-procs.ts), and only the rows in view are
 * rendered, always a valid slice of the table (tasks/row-window.ts).
 */
import { describe, expect, it } from 'vitest';
import type { ProcInfo } from '../../src/abi/protocol';
import { USER_CAPS } from '../../src/kernel/access-control';
import { LiveProcs } from '../../src/shell/apps/tasks/live-procs';
import { rowWindow, WINDOW_FROM_ROWS } from '../../src/shell/apps/tasks/row-window';

const proc = (pid: number, completion: number, state: ProcInfo['state'] = 'running'): ProcInfo => ({
  pid,
  ppid: 0,
  task: `t${pid}`,
  program: 'p',
  priority: 0,
  state,
  exitCode: null,
  exitReason: null,
  startTime: 0,
  endTime: null,
  hostTab: 'x',
  restart: 'never',
  restarts: 0,
  capabilities: USER_CAPS,
  usage: { prompt_tokens: 1, completion_tokens: completion },
});

describe('LiveProcs', () => {
  it('shows the latest figures of 300 processes fed by events, sorted by pid', () => {
    const live = new LiveProcs();
    live.replace([]);
    // Events in any order: each process's figures rise, the last one must win.
    for (let round = 1; round <= 5; round++)
      for (let pid = 300; pid >= 1; pid--) live.update(proc(pid, pid * round));
    const rows = live.list();
    expect(rows.map((p) => p.pid)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(rows.every((p) => p.usage.completion_tokens === p.pid * 5)).toBe(true);
    expect(live.completionTokens()).toBe(5 * ((300 * 301) / 2));
    // The same array until something changes (a render of unchanged rows is skipped).
    expect(live.list()).toBe(rows);
    live.update(proc(42, 1, 'exited'));
    const after = live.list();
    expect(after).not.toBe(rows);
    expect(after[41]).toMatchObject({ pid: 42, state: 'exited', usage: { completion_tokens: 1 } });
  });

  it('a full ps replaces what events said: processes gone from it are gone', () => {
    const live = new LiveProcs();
    for (let pid = 1; pid <= 10; pid++) live.update(proc(pid, 1));
    live.replace([proc(3, 30), proc(1, 10)]);
    expect(live.list().map((p) => [p.pid, p.usage.completion_tokens])).toEqual([
      [1, 10],
      [3, 30],
    ]);
    live.update(proc(2, 20)); // an event after the answer adds to it
    expect(live.list().map((p) => p.pid)).toEqual([1, 2, 3]);
  });
});

describe('rowWindow', () => {
  it('renders a small table whole', () => {
    expect(rowWindow(WINDOW_FROM_ROWS, { scrollTop: 5000, height: 100 }, 0, 30)).toEqual({
      start: 0,
      end: WINDOW_FROM_ROWS,
    });
  });

  it('renders the rows in view and a margin, within bounds, wherever the view is', () => {
    const total = 400;
    const rowH = 30;
    const top = 120;
    for (let scrollTop = 0; scrollTop <= top + total * rowH + 500; scrollTop += 97) {
      const w = rowWindow(total, { scrollTop, height: 600 }, top, rowH);
      expect(w.start).toBeGreaterThanOrEqual(0);
      expect(w.end).toBeLessThanOrEqual(total);
      expect(w.end).toBeGreaterThan(w.start);
      expect(w.end - w.start).toBeLessThan(60); // far fewer than 400
      // Every row that intersects the view is rendered.
      const firstInView = Math.max(0, Math.floor((scrollTop - top) / rowH));
      const lastInView = Math.min(total - 1, Math.floor((scrollTop + 600 - top) / rowH));
      if (firstInView <= lastInView) {
        expect(w.start).toBeLessThanOrEqual(firstInView);
        expect(w.end).toBeGreaterThan(lastInView);
      }
    }
  });
});
