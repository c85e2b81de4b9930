import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import { arr, int, json, obj, oneOf, opt, str } from '../../src/kernel/check';

const code = (f: () => unknown) => {
  try {
    f();
    return 'OK';
  } catch (e) {
    return e instanceof SysError ? e.code : 'THROWN';
  }
};

describe('argument checks', () => {
  const c = obj({
    name: str({ max: 5 }),
    n: opt(int({ min: 0, max: 10 })),
    kind: opt(oneOf('a', 'b')),
    xs: opt(arr(int(), { max: 2 })),
  });

  it('accepts the named shape and returns a fresh object without a prototype', () => {
    const out = c({ name: 'ok', n: 3, kind: 'a', xs: [1] }, '');
    expect(out).toEqual({ name: 'ok', n: 3, kind: 'a', xs: [1] });
    expect(Object.getPrototypeOf(out)).toBeNull();
  });

  it('refuses wrong types, ranges, unknown keys and prototype keys with EINVAL', () => {
    expect(code(() => c({ name: 1 }, ''))).toBe('EINVAL');
    expect(code(() => c({ name: 'x', n: 11 }, ''))).toBe('EINVAL');
    expect(code(() => c({ name: 'x', n: 1.5 }, ''))).toBe('EINVAL');
    expect(code(() => c({ name: 'x', kind: 'c' }, ''))).toBe('EINVAL');
    expect(code(() => c({ name: 'x', extra: 1 }, ''))).toBe('EINVAL');
    expect(code(() => c(JSON.parse('{"name":"x","__proto__":{"a":1}}'), ''))).toBe('EINVAL');
    expect(code(() => c(JSON.parse('{"name":"x","constructor":{"prototype":{}}}'), ''))).toBe('EINVAL');
    expect(code(() => c([], ''))).toBe('EINVAL');
    expect(code(() => c(new Date(), ''))).toBe('EINVAL');
    expect(code(() => c(null, ''))).toBe('EINVAL');
  });

  it('refuses oversize values with E2BIG', () => {
    expect(code(() => c({ name: 'toolong' }, ''))).toBe('E2BIG');
    expect(code(() => c({ name: 'x', xs: [1, 2, 3] }, ''))).toBe('E2BIG');
    expect(code(() => json({ maxBytes: 10 })({ a: 'x'.repeat(20) }, ''))).toBe('E2BIG');
  });

  it('json() walks nested data and refuses prototype keys at any depth and deep nesting', () => {
    expect(code(() => json()({ a: [{ b: 1 }] }, ''))).toBe('OK');
    expect(code(() => json()({ a: [JSON.parse('{"__proto__":{}}')] }, ''))).toBe('EINVAL');
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(code(() => json()(deep, ''))).toBe('EINVAL');
    expect(code(() => json()(() => 1, ''))).toBe('EINVAL');
  });

  it('names the offending path in the message', () => {
    expect(() => c({ name: 'x', xs: [1, 'y'] }, '')).toThrow(/xs\[1\]: expected an integer/);
  });
});
