/**
 * The contract every ChatEngine driver must keep, as a vitest suite:
 * `defineEngineContract('my driver', makeEngine, opts)` inside a test file.
 * The kernel relies on these properties (streaming equals collecting, usage on
 * the last chunk, max_tokens, prompt aborts, ENOENT for unknown models, and a
 * caller's request left untouched), whichever driver serves a model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChatEngine, ChatRequest } from '../../src/models/engine';
import { collect } from '../../src/models/engine';

export interface ContractOptions {
  /** A request whose answer is the same every time (default: a seeded free-form question). */
  request?: ChatRequest;
  /** A request with a long answer, to abort mid-stream and cap with max_tokens. */
  longRequest?: ChatRequest;
  /**
   * Loads the driver's model under a name that does not exist. It must reject
   * with ENOENT, or give an engine whose first stream fails with ENOENT.
   */
  unknownModel: () => Promise<unknown>;
  /**
   * How far usage.completion_tokens may be from countTokens(content), for
   * drivers whose countTokens is an estimate (default: exact).
   */
  tolerance?: { relative?: number; absolute?: number };
  /** How soon an aborted stream must end (default 1000 ms). */
  abortWithinMs?: number;
  /** Tokens for the max_tokens check (default 5). */
  maxTokens?: number;
  /** Per-test timeout (default 10 s). */
  timeoutMs?: number;
}

const DEFAULT_REQUEST: ChatRequest = {
  messages: [
    { role: 'system', content: 'You are a terse assistant.' },
    { role: 'user', content: 'Describe what an operating system does.' },
  ],
  temperature: 0,
  seed: 42,
  max_tokens: 64,
};

const DEFAULT_LONG: ChatRequest = {
  messages: [{ role: 'user', content: `say ${'tokens stream one after another '.repeat(150)}` }],
  temperature: 0,
  seed: 1,
};

/** No test loop may run forever, whatever a broken driver does. */
const MAX_CHUNKS = 100_000;

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

async function drain(it: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of it) {
    out.push(c);
    if (out.length > MAX_CHUNKS) throw new Error(`more than ${MAX_CHUNKS} chunks`);
  }
  return out;
}

const text = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

export function defineEngineContract(
  name: string,
  makeEngine: () => Promise<ChatEngine> | ChatEngine,
  opts: ContractOptions,
): void {
  const request = opts.request ?? DEFAULT_REQUEST;
  const long = opts.longRequest ?? DEFAULT_LONG;
  const rel = opts.tolerance?.relative ?? 0;
  const abs = opts.tolerance?.absolute ?? 0;
  const t = opts.timeoutMs ?? 10_000;
  const within = (reported: number, counted: number) =>
    Math.abs(reported - counted) <= Math.max(abs, Math.ceil(rel * Math.max(reported, counted)));

  describe(`engine contract: ${name}`, () => {
    let engine: ChatEngine;
    beforeAll(async () => {
      engine = await makeEngine();
    }, t);
    afterAll(async () => {
      await engine?.dispose?.();
    });

    it(
      'streams chunks whose content equals collect() of the same request',
      async () => {
        const chunks = await drain(engine.stream(request));
        const whole = await collect(engine.stream(request));
        const streamed = text(chunks);
        expect(streamed.length).toBeGreaterThan(0);
        expect(streamed).toBe(whole.choices[0]!.message.content);
        for (const c of chunks) {
          expect(c.object).toBe('chat.completion.chunk');
          expect(c.choices[0]?.index ?? 0).toBe(0);
        }
        // Only the last chunk finishes and carries usage.
        expect(chunks.slice(0, -1).every((c) => !c.usage && !c.choices[0]?.finish_reason)).toBe(true);
        expect(chunks.at(-1)!.choices[0]!.finish_reason).toBeTruthy();
      },
      t,
    );

    it(
      'puts usage on the last chunk, with completion tokens matching countTokens of the output',
      async () => {
        const chunks = await drain(engine.stream(request));
        const usage = chunks.at(-1)!.usage;
        expect(usage).toBeDefined();
        const u = usage!;
        for (const n of [u.prompt_tokens, u.completion_tokens, u.total_tokens]) {
          expect(Number.isInteger(n) && n >= 0).toBe(true);
        }
        expect(u.prompt_tokens).toBeGreaterThan(0);
        expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
        const counted = engine.countTokens(text(chunks));
        expect(
          within(u.completion_tokens, counted),
          `usage ${u.completion_tokens} vs countTokens ${counted} (tolerance ${rel}, ${abs})`,
        ).toBe(true);
      },
      t,
    );

    it(
      'respects max_tokens with finish_reason length',
      async () => {
        const n = opts.maxTokens ?? 5;
        const chunks = await drain(engine.stream({ ...long, max_tokens: n }));
        const last = chunks.at(-1)!;
        expect(last.choices[0]!.finish_reason).toBe('length');
        expect(last.usage!.completion_tokens).toBeLessThanOrEqual(n);
        expect(last.usage!.completion_tokens).toBeGreaterThan(0);
        expect(within(n, engine.countTokens(text(chunks)))).toBe(true);
      },
      t,
    );

    it(
      'ends promptly with finish_reason abort when aborted mid-stream',
      async () => {
        const ctrl = new AbortController();
        const chunks: ChatCompletionChunk[] = [];
        let abortedAt = 0;
        for await (const c of engine.stream(long, ctrl.signal)) {
          chunks.push(c);
          if (!abortedAt && c.choices[0]?.delta.content) {
            abortedAt = performance.now();
            ctrl.abort();
          }
          if (chunks.length > MAX_CHUNKS) throw new Error('no end after abort');
        }
        const took = performance.now() - abortedAt;
        expect(abortedAt).toBeGreaterThan(0);
        expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('abort');
        expect(took).toBeLessThan(opts.abortWithinMs ?? 1000);
        // It stopped early: far from the whole answer.
        const full = engine.countTokens(long.messages.at(-1)!.content ?? '');
        expect(engine.countTokens(text(chunks))).toBeLessThan(full / 2);
      },
      t,
    );

    it(
      'answers an unknown model with ENOENT',
      async () => {
        const err = await (async () => {
          const e = await opts.unknownModel();
          if (e && typeof (e as ChatEngine).stream === 'function')
            await collect((e as ChatEngine).stream(request));
        })().then(
          () => null,
          (e: unknown) => e,
        );
        expect((err as { code?: unknown })?.code, String(err)).toBe('ENOENT');
      },
      t,
    );

    it(
      'leaves the request untouched',
      async () => {
        const req = deepFreeze(structuredClone({ ...request, stop: ['\u0000never'] }));
        const before = structuredClone(req);
        await collect(engine.stream(req));
        const capped = deepFreeze(structuredClone({ ...long, max_tokens: 3 }));
        const cappedBefore = structuredClone(capped);
        await collect(engine.stream(capped));
        expect(req).toEqual(before);
        expect(capped).toEqual(cappedBefore);
      },
      t,
    );
  });
}
