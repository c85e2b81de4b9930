/**
 * A tool's result is measured without serialising it (registry.ts resultSize): a 16 MB typed
 * array an agent's tool returns used to become a 16-million-key JSON string in the kernel's thread.
 */
import { describe, expect, it } from 'vitest';
import { MAX_RESULT_BYTES, resultSize } from '../../src/tools/registry';
import { boot } from './harness';

describe('tool results', () => {
  it('resultSize stops once past the limit, counts buffers whole, and treats deep nesting as over', () => {
    expect(resultSize({ a: 'xy', b: [1, 2] }, 1000)).toBeLessThan(100);
    const big = new Uint8Array(new ArrayBuffer(16 << 20), 0, 1);
    expect(resultSize({ x: big }, MAX_RESULT_BYTES)).toBeGreaterThan(MAX_RESULT_BYTES);
    const sparse: number[] = [];
    sparse.length = 2 ** 32 - 1;
    expect(resultSize(sparse, 1000)).toBeGreaterThan(1000); // stops after about a thousand holes, not 4 billion
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(resultSize(deep, 1_000_000)).toBeGreaterThan(1_000_000);
  });

  it('an agent’s tool returning 16 MB of binary is E2BIG to its caller; the kernel keeps serving', async () => {
    const h = await boot({
      server: async (ctx) => {
        await ctx.tools.serve(
          { name: 'big.blob', description: 'x', inputSchema: { type: 'object' } },
          () => new Uint8Array(16 * 2 ** 20 - 4096),
        );
        let code = 'ok';
        try {
          await ctx.syscall('tools.call', { name: 'big.blob', args: {} });
        } catch (e) {
          code = (e as { code: string }).code;
        }
        await ctx.print(code);
      },
    });
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 't',
      permissions: { tools: ['big.blob'] },
      options: { program: 'server' },
    });
    await h.user.call('wait', { pid, timeoutMs: 20_000 });
    expect(await h.user.call<string>('output', { pid })).toBe('E2BIG');
    expect(await h.user.call('getpid')).toMatchObject({ pid: 0 });
    h.close();
  });
});
