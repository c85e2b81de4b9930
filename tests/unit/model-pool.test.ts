import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import type { ChatEngine } from '../../src/models/engine';
import { DeterministicEngine } from '../../src/models/engines/deterministic';
import { ModelPool } from '../../src/models/pool';

const MiB = 2 ** 20;

function pool() {
  const p = new ModelPool(1000 * MiB);
  const disposed: string[] = [];
  for (const [id, size, ctx, tags] of [
    ['small-a', 300, 2048, ['small']],
    ['small-b', 300, 2048, ['small']],
    ['large', 600, 32768, ['large']],
    ['huge', 2000, 4096, ['large']],
  ] as const) {
    p.register({
      info: { ...new DeterministicEngine({ id, contextWindow: ctx }).info, sizeBytes: size * MiB },
      tags: [...tags],
      load: async () => {
        const e = new DeterministicEngine({
          id,
          contextWindow: ctx,
          sizeBytes: size * MiB,
          decodeTokensPerSecond: 500,
        });
        (e as ChatEngine).dispose = async () => void disposed.push(id);
        return e;
      },
    });
  }
  return { p, disposed };
}

describe('model pool', () => {
  it('unknown models are ENOENT and the message lists what exists', () => {
    const { p } = pool();
    expect(() => p.route({ model: 'gpt-9' })).toThrow(SysError);
    expect(() => p.route({ model: 'gpt-9' })).toThrow(
      /no model "gpt-9"; available: deterministic, deterministic-fast, small-a/,
    );
  });

  it('routes by need: context, size, and never to a model larger than the budget', () => {
    const { p } = pool();
    expect(p.route({ minContext: 8000 })).toBe('large');
    expect(['small-a', 'small-b', 'deterministic', 'deterministic-fast']).toContain(
      p.route({ size: 'small' }),
    );
    expect(() => p.route({ minContext: 1e7 })).toThrow(/no model fits/);
    expect(p.route({})).toBe('deterministic');
  });

  it('prefers a loaded idle model over loading another', async () => {
    const { p } = pool();
    await p.load('small-b');
    expect(p.route({ size: 'large' })).toBe('large');
    p.defaultModel = 'none';
    const smalls = p.catalog().filter((m) => m.tags.includes('small') && m.sizeBytes > 0);
    expect(smalls.length).toBe(2);
    expect(p.route({ size: 'small', minContext: 1000 })).toBe('small-b');
  });

  it('loads under the memory budget, unloading the least recently used idle model first', async () => {
    const { p, disposed } = pool();
    await p.acquire('small-a');
    await p.acquire('small-b');
    await p.acquire('small-a'); // small-b is now least recently used
    await p.acquire('large'); // 300 + 300 + 600 > 1000: one must go
    expect(p.isLoaded('small-b')).toBe(false);
    expect(p.isLoaded('small-a')).toBe(true);
    await Promise.resolve();
    expect(disposed).toEqual(['small-b']);
    await expect(p.load('huge')).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  it('never unloads a model that is serving a request or holds reservations', async () => {
    const { p } = pool();
    const a = await p.acquire('small-a');
    const ctl = new AbortController();
    const serving = a.sched.submit({
      pid: 1,
      priority: 0,
      livePriority: () => 0,
      enqueuedAt: 0,
      seq: 0,
      req: { messages: [{ role: 'user', content: `say ${'w '.repeat(200)}` }] },
      emit: () => {},
      signal: ctl.signal,
      parked: () => false,
    });
    await p.acquire('small-b');
    await expect(p.unload('small-a')).rejects.toMatchObject({ code: 'EAGAIN' });
    // 'large' needs room: the idle small-b goes, the serving small-a stays.
    await p.load('large');
    expect(p.isLoaded('small-a')).toBe(true);
    expect(p.isLoaded('small-b')).toBe(false);
    // With small-a serving and large holding a reservation, nothing may go: ENOSPC, and nothing was unloaded.
    p.reserve(8, 'large', 100, 0);
    await expect(p.load('small-b')).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(p.isLoaded('small-a') && p.isLoaded('large')).toBe(true);
    p.releaseAll(8);
    ctl.abort();
    await serving;
    p.reserve(7, 'large', 100, 0);
    await expect(p.unload('large')).rejects.toMatchObject({ code: 'EAGAIN' });
    p.releaseAll(7);
    await p.unload('large');
    expect(p.isLoaded('large')).toBe(false);
  });

  it('a failing load is a clear EIO and leaves the pool usable', async () => {
    const p = new ModelPool(1000 * MiB);
    p.register({
      info: new DeterministicEngine({ id: 'broken' }).info,
      tags: [],
      load: async () => {
        throw new Error('download failed: 503');
      },
    });
    await expect(p.load('broken')).rejects.toThrow(/EIO: loading broken failed: download failed: 503/);
    expect((await p.acquire('deterministic-fast')).engine.info.id).toBe('deterministic-fast');
  });
});

describe('engine faults', () => {
  it('a lost GPU device fails the waiting requests with a clear error; the pool drops the model and reloads it on the next request', async () => {
    const p = new ModelPool(2 ** 30);
    let loads = 0;
    p.register({
      info: new DeterministicEngine({ id: 'gpu' }).info,
      tags: [],
      load: async () => {
        loads++;
        const e = new DeterministicEngine({ id: 'gpu', decodeTokensPerSecond: 200 });
        if (loads === 1) {
          // The first instance loses its device after a few tokens.
          const inner = e.stream.bind(e);
          e.stream = async function* (req, signal) {
            let n = 0;
            for await (const c of inner(req, signal)) {
              if (++n > 3) throw Object.assign(new Error('GPU device was lost'), { name: 'DeviceLostError' });
              yield c;
            }
          };
        }
        return e;
      },
    });
    const { sched } = await p.acquire('gpu');
    const job = (pid: number) =>
      sched.submit({
        pid,
        priority: 0,
        livePriority: () => 0,
        enqueuedAt: 0,
        seq: 0,
        req: { messages: [{ role: 'user', content: 'say a b c d e f g' }] },
        emit: () => {},
        signal: new AbortController().signal,
        parked: () => false,
      });
    const results = await Promise.allSettled([job(1), job(2), job(3)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toContain('GPU device was lost');
    expect(p.isLoaded('gpu')).toBe(false);
    const again = await p.acquire('gpu');
    expect(loads).toBe(2);
    await expect(
      again.sched.submit({
        pid: 4,
        priority: 0,
        livePriority: () => 0,
        enqueuedAt: 0,
        seq: 0,
        req: { messages: [{ role: 'user', content: 'say fine' }] },
        emit: () => {},
        signal: new AbortController().signal,
        parked: () => false,
      }),
    ).resolves.toMatchObject({ completion_tokens: 1 });
  });
});

describe('hidden models', () => {
  it('a model tagged hidden is loadable by id but neither offered nor routed to by need', async () => {
    const pool = new ModelPool();
    pool.registerDeterministic({ id: 'speed-test', decodeTokensPerSecond: 1e6 }, ['test', 'small', 'hidden']);
    expect(pool.catalog().map((m) => m.id)).not.toContain('speed-test');
    expect(pool.catalog({ all: true }).map((m) => m.id)).toContain('speed-test');
    expect(pool.route({ model: 'speed-test' })).toBe('speed-test');
    expect(pool.route({ size: 'small' })).not.toBe('speed-test');
    await pool.acquire('speed-test');
    expect(pool.isLoaded('speed-test')).toBe(true);
  });
});
