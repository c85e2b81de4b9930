/**
 * Tool input schemas cannot stall the kernel (safe-schema.ts): patterns are matched in linear
 * time, multiplying anyOf/$ref nests are cut off with E2BIG, patternProperties is refused from
 * agents. Each of these took the kernel's thread for seconds to hours before.
 */
import { describe, expect, it } from 'vitest';
import { ToolRegistry } from '../../src/tools/registry';
import { boot } from './harness';
import { outcome } from './outcome';

const caller = { pid: 7, caps: { tools: ['*'] } } as never;

/** n levels of anyOf [a(i+1), a(i+1)] through $defs: 2^n checks of a few hundred bytes of schema. */
function multiplying(n: number) {
  const defs: Record<string, unknown> = {};
  for (let i = 0; i < n; i++)
    defs[`a${i}`] = { anyOf: [{ $ref: `#/$defs/a${i + 1}` }, { $ref: `#/$defs/a${i + 1}` }] };
  defs[`a${n}`] = { type: 'number' };
  return { $defs: defs, type: 'object', properties: { x: { $ref: '#/$defs/a0' } } };
}

describe('tool schemas are checked in linear time', () => {
  it('a catastrophic pattern (^(a+)+$) is matched by RE2: a non-match is EINVAL at once, a match passes', async () => {
    const r = new ToolRegistry();
    r.register(
      {
        name: 'redos.tool',
        description: 'x',
        inputSchema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } },
      },
      'agent:7',
      () => 'ran',
    );
    // With the JS engine this one string takes hours (2^5000 paths); the test would time out.
    expect(await outcome(r.call('redos.tool', { s: `${'a'.repeat(5000)}!` }, caller))).toBe('EINVAL');
    expect(await r.call('redos.tool', { s: 'aaaa' }, caller)).toBe('ran');
    // JSON Schema's pattern is unanchored, as before.
    r.register(
      {
        name: 'redos.word',
        description: 'x',
        inputSchema: { type: 'string', pattern: 'b+c', allOf: [{ minLength: 2 }] },
      },
      'agent:7',
      () => 'ran',
    );
    expect(await r.call('redos.word', 'xxbbcxx', caller)).toBe('ran');
    expect(await outcome(r.call('redos.word', 'xxbxx', caller))).toBe('EINVAL');
    expect(await outcome(r.call('redos.word', 'b', caller))).toBe('EINVAL'); // its own allOf still holds
  });

  it('a property named "pattern" and data holding one are not patterns', async () => {
    const r = new ToolRegistry();
    r.register(
      {
        name: 'data.tool',
        description: 'x',
        inputSchema: {
          type: 'object',
          properties: { pattern: { type: 'string' }, c: { const: { pattern: '(' } } },
        },
      },
      'agent:7',
      () => 'ran',
    );
    expect(await r.call('data.tool', { pattern: '((', c: { pattern: '(' } }, caller)).toBe('ran');
    expect(await outcome(r.call('data.tool', { c: { pattern: ')' } }, caller))).toBe('EINVAL');
  });

  it('lookarounds, back-references, huge patterns and patternProperties from agents are refused at registration', () => {
    const r = new ToolRegistry();
    r.claimPrefix('m', 'mcp:http://m.test/');
    let n = 0;
    const reg = (inputSchema: Record<string, unknown>, source = 'agent:7') =>
      outcome(() =>
        r.register(
          { name: `${source.startsWith('mcp') ? 'm' : 't'}.x${++n}`, description: 'x', inputSchema },
          source,
          () => 1,
        ),
      );
    return Promise.all([
      reg({ type: 'string', pattern: '(?<=a)b' }),
      reg({ type: 'string', pattern: '(a)\\1' }),
      reg({ type: 'string', pattern: 'a'.repeat(5000) }),
      reg({ type: 'object', patternProperties: { '^(a+)+$': { type: 'string' } } }),
      reg({ type: 'object', patternProperties: { '^x': { type: 'string' } } }, 'mcp:http://m.test/'),
    ]).then((codes) => expect(codes).toEqual(['EINVAL', 'EINVAL', 'E2BIG', 'EINVAL', 'ok']));
  });

  it('a schema whose anyOf/$ref nesting multiplies is cut off with E2BIG; an ordinary big argument is not', async () => {
    const r = new ToolRegistry();
    r.register({ name: 'bomb.tool', description: 'x', inputSchema: multiplying(40) }, 'agent:7', () => 'ran');
    // 2^40 checks otherwise: the kernel's thread for days.
    expect(await outcome(r.call('bomb.tool', { x: 1 }, caller))).toBe('E2BIG');
    r.register(
      {
        name: 'list.tool',
        description: 'x',
        inputSchema: {
          type: 'object',
          properties: {
            xs: {
              type: 'array',
              items: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'string' } } },
            },
          },
        },
      },
      'agent:7',
      () => 'ran',
    );
    const xs = Array.from({ length: 5_000 }, (_, i) => ({ a: i, b: 'x' }));
    expect(await r.call('list.tool', { xs }, caller)).toBe('ran');
  }, 30_000);

  it('through the kernel: an agent registers the bomb and calls it; the call is E2BIG and the kernel serves', async () => {
    const h = await boot({
      bomber: async (ctx) => {
        await ctx.syscall('tools.register', {
          name: 'my.bomb',
          description: 'x',
          inputSchema: multiplying(40),
        });
        const code = await outcome(ctx.syscall('tools.call', { name: 'my.bomb', args: { x: 1 } }));
        await ctx.print(code);
      },
    });
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 't',
      permissions: { tools: ['my.bomb'] },
      options: { program: 'bomber' },
    });
    await h.user.call('wait', { pid, timeoutMs: 20_000 });
    expect(await h.user.call<string>('output', { pid })).toBe('E2BIG');
    expect(await h.user.call<{ pid: number }>('getpid')).toMatchObject({ pid: 0 });
    h.close();
  });
});
