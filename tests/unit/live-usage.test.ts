/**
 * Live process figures: while an agent's answer streams, ps and 'proc' events show its
 * tokens growing, the request generating (not only waiting) and its speed; at the end
 * the engine's own counts stand.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KernelEvent, ProcInfo } from '../../src/abi/protocol';
import { boot, type Harness, sleep } from './harness';

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

describe('live usage of a streaming agent', () => {
  it('counts tokens and says "generating" while the answer streams, then settles on the final usage', async () => {
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    h = await boot({
      talker: async (ctx) => {
        const stream = await ctx.llm.chat.completions.create({
          model: 'slow',
          messages: [{ role: 'user', content: `say ${'word '.repeat(60)}` }],
          stream: true,
        });
        let n = 0;
        for await (const c of stream) {
          if (c.choices[0]?.delta.content) n++;
          if (n === 10) await gate; // hold the stream open until the test has looked
        }
      },
    });
    await h.user.call('models.load', {
      id: 'slow',
      engine: 'deterministic',
      options: { decodeTokensPerSecond: 500 },
    });
    const pid = await h.user
      .call<{ pid: number }>('spawn', { task: 'talk', options: { program: 'talker' } })
      .then((r) => r.pid);
    // Poll until the figures move mid-stream (no timing assumption: the stream is held open at 10 chunks).
    let mid: ProcInfo | undefined;
    for (let i = 0; i < 500; i++) {
      mid = (await h.user.call<ProcInfo[]>('ps')).find((p) => p.pid === pid);
      if ((mid?.usage.completion_tokens ?? 0) >= 10) break;
      await sleep(10);
    }
    expect(mid!.usage.completion_tokens).toBeGreaterThanOrEqual(10);
    expect(mid!.usage.prompt_tokens).toBeGreaterThan(0);
    expect(mid!.state).toBe('waiting');
    expect(mid!.generation).toMatchObject({ model: 'slow', phase: 'generating' });
    expect(mid!.generation!.tokens).toBeGreaterThanOrEqual(10);
    expect(mid!.generation!.tokensPerSecond).toBeGreaterThan(0);
    // The desktop heard of it through 'proc' events, not only through ps.
    const seen = h.events.filter(
      (e): e is Extract<KernelEvent, { type: 'proc' }> =>
        e.type === 'proc' && e.proc.pid === pid && e.proc.generation?.phase === 'generating',
    );
    expect(seen.length).toBeGreaterThan(0);
    release();
    const exit = await h.user.call<{ exitCode: number }>('wait', { pid, timeoutMs: 10_000 });
    expect(exit.exitCode).toBe(0);
    const end = (await h.user.call<ProcInfo[]>('ps')).find((p) => p.pid === pid)!;
    expect(end.generation ?? null).toBeNull();
    // The final counts are the engine's: 60 words and the spaces between them.
    expect(end.usage.completion_tokens).toBeGreaterThan(mid!.usage.completion_tokens);
    const waiting = h.events.some(
      (e) => e.type === 'proc' && e.proc.pid === pid && e.proc.generation?.phase === 'waiting',
    );
    expect(waiting).toBe(true);
  });
});
