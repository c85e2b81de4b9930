/** ctx.tools.serve: one agent serving several tools answers every call to each of them. */
import { afterEach, describe, expect, it } from 'vitest';
import { boot, type Harness } from './harness';

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

describe('tools.serve', () => {
  it('an agent serving two tools answers every call to both, interleaved and concurrent', async () => {
    h = await boot({
      server: async (ctx) => {
        const schema = { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] };
        await ctx.tools.serve({ name: 'double', description: 'twice n', inputSchema: schema }, (a) => ({
          v: (a.n as number) * 2,
        }));
        await ctx.tools.serve({ name: 'square', description: 'n squared', inputSchema: schema }, (a) => ({
          v: (a.n as number) ** 2,
        }));
        await ctx.print('ready');
        await new Promise(() => {});
      },
    });
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 'serve two tools',
      options: { program: 'server' },
    });
    for (let i = 0; i < 200 && (await h.user.call<string>('output', { pid })) !== 'ready'; i++)
      await new Promise((r) => setTimeout(r, 10));
    // In sequence, the same tool twice in a row: with a receive loop per tool, the other tool's loop
    // took every second request off the queue and dropped it (the caller timed out after 30 s).
    for (const name of ['double', 'double', 'double', 'square', 'square', 'double']) {
      const n = 3;
      expect(await h.user.call('tools.call', { name, args: { n } })).toEqual({
        v: name === 'double' ? 6 : 9,
      });
    }
    // And all at once.
    const calls = [1, 3, 5, 2, 4, 6].map((n) =>
      h!.user.call('tools.call', { name: n % 2 ? 'double' : 'square', args: { n } }),
    );
    expect(await Promise.all(calls)).toEqual([{ v: 2 }, { v: 6 }, { v: 10 }, { v: 4 }, { v: 16 }, { v: 36 }]);
  });
});
