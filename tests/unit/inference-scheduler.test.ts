import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import { type ChatCompletionChunk, type ChatEngine, collect } from '../../src/models/engine';
import { DeterministicEngine } from '../../src/models/engines/deterministic';
import {
  DEFAULT_SCHEDULER,
  type InferenceJob,
  InferenceScheduler,
  type Policy,
} from '../../src/models/scheduler';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Probe {
  job: InferenceJob;
  text: () => string;
  firstAt: () => number | null;
  doneAt: () => number | null;
  done: Promise<unknown>;
  abort: AbortController;
  prio: { value: number; parked: boolean };
}

function probe(
  sched: InferenceScheduler,
  pid: number,
  priority: number,
  content: string,
  maxTokens?: number,
): Probe {
  const out: string[] = [];
  let first: number | null = null;
  let end: number | null = null;
  const abort = new AbortController();
  const prio = { value: priority, parked: false };
  const job: InferenceJob = {
    pid,
    priority,
    livePriority: () => prio.value,
    enqueuedAt: performance.now(),
    seq: 0,
    req: { messages: [{ role: 'user', content }], ...(maxTokens ? { max_tokens: maxTokens } : {}) },
    emit: (c: ChatCompletionChunk) => {
      const t = c.choices[0]?.delta.content;
      if (t) {
        first ??= performance.now();
        out.push(t);
      }
    },
    signal: abort.signal,
    parked: () => prio.parked,
  };
  const done = sched.submit(job).finally(() => {
    end = performance.now();
  });
  return { job, text: () => out.join(''), firstAt: () => first, doneAt: () => end, done, abort, prio };
}

const words = (n: number, tag: string) =>
  `say ${Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ')}`;
const expected = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ');
const engine = (decode = 2000, continuation = true) => {
  const e = new DeterministicEngine({ decodeTokensPerSecond: decode, prefillTokensPerSecond: 1e6 });
  (e.info as { supportsContinuation: boolean }).supportsContinuation = continuation;
  return e;
};
const make = (policy: Policy, e = engine(), extra = {}) =>
  new InferenceScheduler(e, { ...DEFAULT_SCHEDULER, policy, ...extra });

describe('inference scheduler', () => {
  it('fifo serves in arrival order without preemption', async () => {
    const s = make('fifo');
    const a = probe(s, 1, 10, words(40, 'a'));
    const b = probe(s, 2, -10, words(5, 'b'));
    await Promise.all([a.done, b.done]);
    expect(a.doneAt()!).toBeLessThan(b.firstAt()!);
    expect(s.stats().preemptions).toBe(0);
    expect(a.text()).toBe(expected(40, 'a'));
  });

  it('priority preempts a long generation at a chunk boundary; the preempted one resumes intact', async () => {
    const s = make('priority');
    const a = probe(s, 1, 10, words(60, 'a'));
    await sleep(15);
    const b = probe(s, 2, -10, words(5, 'b'));
    await Promise.all([a.done, b.done]);
    expect(b.doneAt()!).toBeLessThan(a.doneAt()!);
    expect(s.stats().preemptions).toBeGreaterThanOrEqual(1);
    // Same text as if never interrupted: the continuation re-prefilled what it had.
    expect(a.text()).toBe(expected(60, 'a'));
    expect(b.text()).toBe(expected(5, 'b'));
    const usage = (await a.done) as { completion_tokens: number; prompt_tokens: number };
    expect(usage.completion_tokens).toBe(119);
    expect(usage.prompt_tokens).toBe(
      new DeterministicEngine().promptTokens([{ role: 'user', content: words(60, 'a') }]),
    );
  });

  it('priority does not preempt for an equal or less urgent job', async () => {
    const s = make('priority');
    const a = probe(s, 1, 0, words(40, 'a'));
    await sleep(10);
    const b = probe(s, 2, 5, words(5, 'b'));
    await Promise.all([a.done, b.done]);
    expect(a.doneAt()!).toBeLessThanOrEqual(b.firstAt()!);
    expect(s.stats().preemptions).toBe(0);
  });

  it('does not preempt engines that cannot continue a generation', async () => {
    const s = make('priority', engine(2000, false));
    const a = probe(s, 1, 10, words(40, 'a'));
    await sleep(10);
    const b = probe(s, 2, -10, words(5, 'b'));
    await Promise.all([a.done, b.done]);
    expect(s.stats().preemptions).toBe(0);
    expect(a.doneAt()!).toBeLessThanOrEqual(b.firstAt()!);
  });

  it('round-robin interleaves long generations by quantum', async () => {
    const s = make('round-robin', engine(), { quantumTokens: 8 });
    const a = probe(s, 1, 0, words(30, 'a'));
    const b = probe(s, 2, 0, words(30, 'b'));
    await Promise.all([a.done, b.done]);
    expect(b.firstAt()!).toBeLessThan(a.doneAt()!);
    expect(s.stats().preemptions).toBeGreaterThan(2);
    expect(a.text()).toBe(expected(30, 'a'));
    expect(b.text()).toBe(expected(30, 'b'));
  });

  it('aging lets a long-waiting low-priority job go before a newer urgent one', async () => {
    const run = async (agingMs: number) => {
      const s = make('priority', engine(500, false), { agingMs });
      const busy = probe(s, 1, 0, words(30, 'x')); // ~120 ms, not preemptible
      const low = probe(s, 2, 19, words(2, 'l'));
      await sleep(80);
      const high = probe(s, 3, 0, words(2, 'h'));
      await Promise.all([busy.done, low.done, high.done]);
      return low.firstAt()! < high.firstAt()! ? 'low first' : 'high first';
    };
    expect(await run(2)).toBe('low first');
    expect(await run(1e9)).toBe('high first');
  });

  it('aging reorders the queue but never preempts among equal priorities (no churn)', async () => {
    const s = make('priority', engine(1000), { agingMs: 1 });
    const jobs = [0, 1, 2, 3].map((i) => probe(s, i + 1, 0, words(15, `j${i}`)));
    await Promise.all(jobs.map((j) => j.done));
    expect(s.stats().preemptions).toBe(0);
    expect(jobs.map((j) => j.text())).toEqual([0, 1, 2, 3].map((i) => expected(15, `j${i}`)));
  });

  it('a changed priority takes effect on the live queue', async () => {
    const s = make('priority', engine(1000, false));
    const busy = probe(s, 1, 0, words(20, 'x'));
    const a = probe(s, 2, 5, words(2, 'a'));
    const b = probe(s, 3, 6, words(2, 'b'));
    b.prio.value = -5; // reniced while queued
    s.poke();
    await Promise.all([busy.done, a.done, b.done]);
    expect(b.firstAt()!).toBeLessThan(a.firstAt()!);
  });

  it('a parked (suspended) job yields the model and resumes later, intact', async () => {
    const s = make('priority');
    const a = probe(s, 1, 0, words(50, 'a'));
    const b = probe(s, 2, 0, words(10, 'b'));
    await sleep(10);
    a.prio.parked = true;
    s.poke();
    await b.done;
    expect(a.doneAt()).toBeNull();
    a.prio.parked = false;
    s.poke();
    await a.done;
    expect(a.text()).toBe(expected(50, 'a'));
  });

  it('an engine that cannot continue (WebLLM) is not parked mid-answer: the answer ends intact', async () => {
    // Like WebLLM, this engine drops `continuation`: resumed, it would start over and garble the text.
    const inner = engine(2000, false);
    const forgetful: ChatEngine = {
      info: inner.info,
      countTokens: (t) => inner.countTokens(t),
      stream: (req, signal) => inner.stream({ ...req, continuation: undefined }, signal),
    };
    const s = make('priority', forgetful as DeterministicEngine);
    const a = probe(s, 1, 0, words(50, 'a'));
    await sleep(10);
    a.prio.parked = true;
    s.poke();
    await a.done;
    expect(a.text()).toBe(expected(50, 'a'));
    expect(s.stats().preemptions).toBe(0);
  });

  it('cancel: a queued job rejects with ECANCELED, a running one ends with abort', async () => {
    const s = make('fifo', engine(500));
    const a = probe(s, 1, 0, words(50, 'a'));
    const b = probe(s, 2, 0, words(5, 'b'));
    b.abort.abort();
    await expect(b.done).rejects.toSatisfy((e) => SysError.is(e, 'ECANCELED'));
    await sleep(20);
    a.abort.abort();
    const u = (await a.done) as { completion_tokens: number };
    expect(u.completion_tokens).toBeLessThan(99);
    expect(s.busy).toBe(false);
  });

  it('max_tokens holds across preemptions', async () => {
    const s = make('round-robin', engine(), { quantumTokens: 4 });
    const a = probe(s, 1, 0, words(30, 'a'), 11);
    const b = probe(s, 2, 0, words(30, 'b'), 11);
    await Promise.all([a.done, b.done]);
    const direct = await collect(
      engine().stream({ messages: [{ role: 'user', content: words(30, 'a') }], max_tokens: 11 }),
    );
    expect(a.text()).toBe(direct.choices[0]!.message.content);
  });
});

describe('token accounting', () => {
  it('takes the engine’s own completion count when a chunk carries several tokens', async () => {
    const inner = new DeterministicEngine({ id: 'pairs' });
    // Chunks of two tokens each, as word-wise streamers (transformers.js) and batching servers send.
    const engine = {
      info: inner.info,
      countTokens: (t: string) => inner.countTokens(t),
      async *stream(req: Parameters<typeof inner.stream>[0], signal?: AbortSignal) {
        let held = '';
        for await (const c of inner.stream(req, signal)) {
          const piece = c.choices[0]?.delta.content;
          if (piece !== undefined && !c.choices[0]?.finish_reason) {
            held += piece;
            if (inner.countTokens(held) >= 2) {
              yield { ...c, choices: [{ ...c.choices[0]!, delta: { content: held } }] };
              held = '';
            }
            continue;
          }
          if (held)
            yield {
              ...c,
              choices: [{ index: 0 as const, delta: { content: held }, finish_reason: null }],
              usage: undefined,
            };
          yield c;
        }
      },
    };
    const sched = new InferenceScheduler(engine, { ...DEFAULT_SCHEDULER, policy: 'fifo' });
    const p = probe(sched, 1, 0, 'say a b c d e f g h', undefined);
    const usage = (await p.done) as { completion_tokens: number };
    expect(p.text()).toBe('a b c d e f g h');
    expect(usage.completion_tokens).toBe(inner.countTokens('a b c d e f g h'));
  });
});
