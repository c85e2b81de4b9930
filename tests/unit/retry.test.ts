import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import { RETRIES, retryRead, retryStream } from '../../src/workers/retry';

const down = () => new SysError('EHOSTDOWN', 'its tab closed');

describe('safe retries after a host tab went away', () => {
  it('a read is run again on EHOSTDOWN (up to the limit); other errors are reported at once', async () => {
    let calls = 0;
    expect(
      await retryRead(async () => {
        if (++calls < 3) throw down();
        return 'answer';
      }),
    ).toBe('answer');
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      retryRead(async () => {
        calls++;
        throw down();
      }),
    ).rejects.toMatchObject({ code: 'EHOSTDOWN' });
    expect(calls).toBe(RETRIES + 1);
    calls = 0;
    await expect(
      retryRead(async () => {
        calls++;
        throw new SysError('EPERM', 'no');
      }),
    ).rejects.toMatchObject({ code: 'EPERM' });
    expect(calls).toBe(1);
  });

  it('a stream restarts if it failed before its first chunk, and is reported if it had streamed', async () => {
    let starts = 0;
    async function* failsFirst(): AsyncGenerator<string, string> {
      starts++;
      if (starts === 1) throw down();
      yield 'a';
      yield 'b';
      return 'done';
    }
    const got: string[] = [];
    const s = retryStream(failsFirst);
    for (;;) {
      const n = await s.next();
      if (n.done) {
        got.push(`=${n.value}`);
        break;
      }
      got.push(n.value);
    }
    expect(got).toEqual(['a', 'b', '=done']);
    expect(starts).toBe(2);

    starts = 0;
    async function* failsMidway(): AsyncGenerator<string, string> {
      starts++;
      yield 'partial';
      throw down();
    }
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const c of retryStream(failsMidway)) seen.push(c);
      })(),
    ).rejects.toMatchObject({ code: 'EHOSTDOWN' });
    expect(seen).toEqual(['partial']);
    expect(starts).toBe(1);
  });

  it('breaking out of a retried stream closes the call underneath', async () => {
    let closed = false;
    async function* endless(): AsyncGenerator<number, void> {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    for await (const i of retryStream(endless)) if (i === 2) break;
    expect(closed).toBe(true);
  });
});
