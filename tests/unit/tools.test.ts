import { describe, expect, it } from 'vitest';
import { USER_CAPS } from '../../src/kernel/access-control';
import { evaluate, registerBuiltins, ToolRegistry } from '../../src/tools/registry';
import { conceptEmbedder } from './concept-embedder';

const USER = { pid: 0, caps: USER_CAPS };

describe('tool registry', () => {
  const reg = () => {
    const r = new ToolRegistry();
    registerBuiltins(r);
    r.register(
      {
        name: 'weather.lookup',
        description: 'current weather and temperature forecast for a city',
        inputSchema: {
          type: 'object',
          properties: { city: { type: 'string', minLength: 1 } },
          required: ['city'],
          additionalProperties: false,
        },
      },
      'agent:7',
      (a) => ({ city: a.city, tempC: 21 }),
    );
    return r;
  };

  it('validates arguments against the JSON Schema before calling', async () => {
    const r = reg();
    expect(await r.call('weather.lookup', { city: 'Oslo' }, USER)).toEqual({ city: 'Oslo', tempC: 21 });
    await expect(r.call('weather.lookup', {}, USER)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(r.call('weather.lookup', { city: 'Oslo', extra: 1 }, USER)).rejects.toMatchObject({
      code: 'EINVAL',
    });
    await expect(r.call('weather.lookup', { city: 42 }, USER)).rejects.toThrow(/do not match its schema/);
    await expect(r.call('nope', {}, USER)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('search without an embedder from memory falls back to shared words, within what is allowed', async () => {
    const r = reg();
    expect((await r.search('what is the temperature forecast in Paris', 1))[0]!.name).toBe('weather.lookup');
    expect((await r.search('calculate 2+2 with a calculator', 1))[0]!.name).toBe('math.evaluate');
    expect(
      (await r.search('weather forecast', 3, (n) => n !== 'weather.lookup')).map((t) => t.name),
    ).not.toContain('weather.lookup');
  });

  it('search ranks by meaning with the embedder it is given (memory’s): no words shared with the description', async () => {
    const r = reg();
    // Shared words alone cannot find these: no query shares a word with the tool's name or description.
    r.useEmbedder(async () => conceptEmbedder);
    expect((await r.search('what hour is it', 1))[0]!.name).toBe('time.now');
    expect((await r.search('add up some numbers', 1))[0]!.name).toBe('math.evaluate');
    const sunny = await r.search('will it be sunny in Paris', 1);
    expect(sunny[0]!.name).toBe('weather.lookup');
    // A changed description is embedded again.
    r.register(
      { name: 'weather.lookup', description: 'sum of two numbers', inputSchema: { type: 'object' } },
      'agent:7',
      () => 0,
    );
    const after = (await r.search('will it be sunny in Paris', 5)).find((t) => t.name === 'weather.lookup');
    expect(after!.score).toBeLessThan(sunny[0]!.score);
  });

  it('limits result size, refuses bad schemas and names, keeps sources apart, removes by source', async () => {
    const r = reg();
    r.register({ name: 'big', description: 'x', inputSchema: { type: 'object' } }, 'agent:1', () =>
      'x'.repeat(300_000),
    );
    await expect(r.call('big', {}, USER)).rejects.toMatchObject({ code: 'E2BIG' });
    expect(() =>
      r.register({ name: 'bad name!', description: '', inputSchema: {} }, 'kernel', () => 0),
    ).toThrow(/EINVAL/);
    expect(() =>
      r.register({ name: 'time.now', description: 'fake clock', inputSchema: {} }, 'agent:9', () => 0),
    ).toThrow(/EAGAIN/);
    r.removeSource('agent:7');
    expect(r.list().map((t) => t.name)).not.toContain('weather.lookup');
  });

  it('evaluates arithmetic without eval', () => {
    expect(evaluate('(2+3)*4')).toBe(20);
    expect(evaluate('2^3^2')).toBe(512);
    expect(evaluate('-4 + 10 % 4 / 2')).toBe(-3);
    expect(() => evaluate('alert(1)')).toThrow(/EINVAL/);
    expect(() => evaluate('2+')).toThrow(/EINVAL/);
  });
});
