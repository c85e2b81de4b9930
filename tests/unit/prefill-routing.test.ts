/**
 * Prefill counted in scheduling and routing: the scheduler learns an engine's speeds from its
 * own report (WebLLM's usage.extra: prefill and decode tokens/s) rather than wall-clock time,
 * the expected wait of a model counts the prefill of the prompts queued on it, and the pool
 * routes a request to the model whose queue costs least with that counted.
 */
import { describe, expect, it } from 'vitest';
import {
  type ChatCompletionChunk,
  type ChatEngine,
  chunkMaker,
  type ModelInfo,
} from '../../src/models/engine';
import { ModelPool } from '../../src/models/pool';
import { type InferenceJob, InferenceScheduler } from '../../src/models/scheduler';

/** An engine that answers one token once `open()` is called, and reports the given speeds. */
function gatedEngine(id: string, extra: { prefill_tokens_per_s: number; decode_tokens_per_s: number }) {
  const gates: Array<() => void> = [];
  const info: ModelInfo = { id, engine: 'test', contextWindow: 100_000, sizeBytes: 1, supportsTools: true };
  const engine: ChatEngine = {
    info,
    countTokens: (t) => t.split(/\s+/).filter(Boolean).length,
    async *stream(req): AsyncGenerator<ChatCompletionChunk> {
      await new Promise<void>((r) => gates.push(r));
      const c = chunkMaker('x', id);
      yield c({ role: 'assistant', content: 'ok' }, null);
      const p = req.messages.reduce((n, m) => n + engine.countTokens(m.content ?? ''), 0);
      yield c({}, 'stop', { prompt_tokens: p, completion_tokens: 1, total_tokens: p + 1, extra });
    },
  };
  return { engine, open: () => gates.shift()?.(), waiting: () => gates.length };
}

function job(pid: number, words: number, maxTokens = 10): InferenceJob {
  return {
    pid,
    priority: 0,
    livePriority: () => 0,
    enqueuedAt: performance.now(),
    seq: 0,
    req: { messages: [{ role: 'user', content: 'w '.repeat(words) }], max_tokens: maxTokens },
    emit: () => {},
    signal: new AbortController().signal,
    parked: () => false,
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('prefill-aware scheduling and routing', () => {
  it('learns prefill and decode speed from the engine’s own report, not the clock', async () => {
    const g = gatedEngine('m', { prefill_tokens_per_s: 500, decode_tokens_per_s: 50 });
    const s = new InferenceScheduler(g.engine);
    const before = s.stats();
    const done = s.submit(job(1, 10));
    await tick();
    g.open();
    await done;
    const after = s.stats();
    // One EWMA step (α = 0.3) toward 1000/500 = 2 ms and 1000/50 = 20 ms per token.
    expect(after.prefillMsPerToken).toBeCloseTo(0.7 * before.prefillMsPerToken + 0.3 * 2, 9);
    expect(after.decodeMsPerToken).toBeCloseTo(0.7 * before.decodeMsPerToken + 0.3 * 20, 9);
  });

  it('a queue of long prompts waits longer than one of short prompts, by their prefill', async () => {
    const g = gatedEngine('m', { prefill_tokens_per_s: 500, decode_tokens_per_s: 50 });
    const s = new InferenceScheduler(g.engine);
    void s.submit(job(1, 5));
    await tick();
    const base = s.expectedWaitMs();
    void s.submit(job(2, 2000));
    const withLong = s.expectedWaitMs();
    const prefillMs = s.stats().prefillMsPerToken;
    const decodeMs = s.stats().decodeMsPerToken;
    // The queued job adds its decode (max_tokens 10) and its 2000-token prefill.
    expect(withLong - base).toBeCloseTo(10 * decodeMs + 2000 * prefillMs, 6);
    for (let i = 0; i < 2; i++) {
      g.open();
      await tick();
    }
  });

  it('the pool routes to the model whose queue costs least once prefill is counted', async () => {
    const pool = new ModelPool(2 ** 30);
    // Same decode speed; "slow-prefill" prefills 50× slower.
    const fast = gatedEngine('fast-prefill', { prefill_tokens_per_s: 5000, decode_tokens_per_s: 50 });
    const slow = gatedEngine('slow-prefill', { prefill_tokens_per_s: 100, decode_tokens_per_s: 50 });
    // Registered first, so it would win a tie.
    for (const g of [slow, fast])
      pool.register({ info: g.engine.info, tags: ['large'], load: async () => g.engine });
    const a = await pool.acquire('fast-prefill');
    const b = await pool.acquire('slow-prefill');
    // Teach each scheduler its engine's speeds (one short job each).
    for (const [l, g] of [
      [a, fast],
      [b, slow],
    ] as const) {
      const d = l.sched.submit(job(1, 1));
      await tick();
      g.open();
      await d;
    }
    // The same queue on each: one running job and one waiting with a long prompt.
    for (const l of [a, b]) {
      void l.sched.submit(job(2, 5));
      void l.sched.submit(job(3, 1500));
    }
    await tick();
    expect(pool.route({ size: 'large' })).toBe('fast-prefill');
    // Without counting prefill the two queues would look the same: decode work is equal.
    expect(a.sched.stats().decodeMsPerToken).toBeCloseTo(b.sched.stats().decodeMsPerToken, 9);
    for (const g of [fast, slow])
      for (let i = 0; i < 2; i++) {
        g.open();
        await tick();
      }
  });
});
