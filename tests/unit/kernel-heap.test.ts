/**
 * What an agent can make the kernel hold or count in its own thread is bounded: short-term
 * memory (held in the kernel's heap, written whole on every append) and the text of one chat
 * request (tokenized synchronously in the kernel).
 */
import { describe, expect, it } from 'vitest';
import { CHAT_MAX_CHARS } from '../../src/kernel/syscalls';
import { STM_MAX_CHARS } from '../../src/kernel/working-memory';
import { boot } from './harness';
import { outcome } from './outcome';

describe('the kernel’s heap and thread against one agent', () => {
  it('short-term memory: 1 MB appends in a loop end in EDQUOT at its cap; the kernel serves on', async () => {
    const h = await boot({
      hoarder: async (ctx) => {
        const mb = 'x'.repeat(1_000_000);
        let n = 0;
        let code = 'ok';
        for (; n < 1000; n++) {
          code = await outcome(ctx.syscall('memory.stm.append', { message: { role: 'user', content: mb } }));
          if (code !== 'ok') break;
        }
        await ctx.print(JSON.stringify({ n, code }));
      },
    });
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 't',
      options: { program: 'hoarder' },
    });
    await h.user.call('wait', { pid, timeoutMs: 60_000 });
    const r = JSON.parse(await h.user.call<string>('output', { pid })) as { n: number; code: string };
    expect(r.code).toBe('EDQUOT');
    expect(r.n).toBe(Math.floor(STM_MAX_CHARS / 1_000_000));
    expect(await h.user.call('getpid')).toMatchObject({ pid: 0 });
    h.close();
  });

  it('an exited process keeps no source or arguments unless it may be restarted (the table keeps 256 exited)', async () => {
    const h = await boot({ '(source)': () => 0 });
    const big = `export default () => 0; // ${'x'.repeat(900_000)}`;
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 't',
      options: { source: big, args: { blob: 'y'.repeat(900_000) } },
    });
    await h.user.call('wait', { pid, timeoutMs: 10_000 });
    const p = h.kernel.procs.get(pid);
    expect(p.info.state).toBe('exited');
    expect(p.source).toBeNull();
    expect(p.args).toBeNull();
    // One that may be restarted keeps what its next life needs.
    const q = h.kernel.procs.get(
      (await h.user.call<{ pid: number }>('spawn', { task: 't', options: { source: big } })).pid,
    );
    await h.user.call('wait', { pid: q.pid, timeoutMs: 10_000 });
    q.info.restartable = true;
    q.source = big;
    h.kernel.procs.exited(q);
    expect(q.source).toBe(big);
    h.close();
  });

  it('one chat request holds at most CHAT_MAX_CHARS of text: 64 messages of 1 MB are E2BIG before any tokenizing', async () => {
    const h = await boot({
      talker: async (ctx) => {
        const mb = 'word '.repeat(200_000);
        const messages = Array.from({ length: 64 }, () => ({ role: 'user', content: mb }));
        await ctx.print(await outcome(ctx.syscall('llm.chat', { model: 'deterministic-fast', messages })));
      },
    });
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 't',
      options: { program: 'talker' },
    });
    await h.user.call('wait', { pid, timeoutMs: 60_000 });
    expect(await h.user.call<string>('output', { pid })).toBe('E2BIG');
    expect(CHAT_MAX_CHARS).toBeLessThan(64 * 1_000_000);
    h.close();
  });
});
