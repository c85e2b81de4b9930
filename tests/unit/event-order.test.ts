/**
 * With events batched per kernel tick, a tab still gets every agent's output whole and in order,
 * and hears of what happened before any answer the kernel sends it afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcInfo } from '../../src/abi/protocol';
import { boot, type Harness } from './harness';

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

describe('events to the tabs, batched', () => {
  it("reassemble each of 40 agents' streamed output exactly, and tell of each exit before wait answers", async () => {
    h = await boot({
      chatty: async (ctx) => {
        const n = ctx.args as number;
        // Pipelined writes: many chunks in flight at once, as a streaming agent sends them.
        await Promise.all(Array.from({ length: 30 }, (_, i) => ctx.print(`<${n}.${i}>`)));
        for (let i = 30; i < 60; i++) await ctx.print(`<${n}.${i}>`);
        return 0;
      },
    });
    const pids = await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        h!.user
          .call<{ pid: number }>('spawn', { task: `chatty ${n}`, options: { program: 'chatty', args: n } })
          .then((r) => r.pid),
      ),
    );
    for (const pid of pids) {
      const exit = await h.user.call<{ exitCode: number }>('wait', { pid, timeoutMs: 20_000 });
      expect(exit.exitCode).toBe(0);
      // The exit was sent before wait's answer, so this tab has it already.
      const procs = h.events.filter(
        (e): e is { type: 'proc'; proc: ProcInfo } => e.type === 'proc' && e.proc.pid === pid,
      );
      expect(procs.at(-1)?.proc.state).toBe('exited');
    }
    for (const [n, pid] of pids.entries()) {
      const streamed = h.events
        .filter((e) => e.type === 'output' && e.pid === pid)
        .map((e) => (e as { data: string }).data)
        .join('');
      // Each write lands whole; concurrent writes may land in any order, sequential ones in order.
      const parts = streamed.match(/<\d+\.\d+>/g) ?? [];
      expect(parts.join('')).toBe(streamed);
      expect(new Set(parts)).toEqual(new Set(Array.from({ length: 60 }, (_, i) => `<${n}.${i}>`)));
      expect(parts.slice(30)).toEqual(Array.from({ length: 30 }, (_, i) => `<${n}.${i + 30}>`));
      // What the tab saw is what the kernel kept.
      expect(await h.user.call('output', { pid })).toBe(streamed);
    }
  });
});
