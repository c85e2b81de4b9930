/**
 * stories260K (public/models/stories260K): a real, trained model (llama2.c's
 * TinyStories 260K) through the transformers.js driver, in Node's onnxruntime.
 * Greedy "Once upon a time" must give the continuation its README documents,
 * and decoding must use the KV cache (one new token per forward after the prompt).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { collect } from '../../src/models/engine';
import { createTransformersEngine } from '../../src/models/engines/transformers';
import { defineEngineContract } from '../contract/engine-contract';
import { STORY_REFERENCE as REFERENCE } from '../contract/stories260k-reference';

const localModelPath = fileURLToPath(new URL('../../public/models/', import.meta.url));
const stories = () => createTransformersEngine({ model: 'stories260K', localModelPath });

defineEngineContract('transformers.js (stories260K, onnxruntime)', stories, {
  request: { messages: [{ role: 'user', content: 'Once upon a time' }], temperature: 0, max_tokens: 40 },
  longRequest: { messages: [{ role: 'user', content: 'Tom had a dog.' }], temperature: 0 },
  unknownModel: () => createTransformersEngine({ model: 'no-such-model', localModelPath }),
  // SentencePiece puts a word-start mark before any text counted on its own ("," → "▁,"), so
  // counting a reply apart from its prompt can give one token more than generating it did.
  tolerance: { absolute: 1 },
  timeoutMs: 30_000,
});

describe('stories260K', () => {
  it('writes the reference continuation of "Once upon a time", greedily', async () => {
    const e = await stories();
    const out = await collect(
      e.stream({ messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 40 }),
    );
    expect(out.choices[0]!.message.content).toBe(REFERENCE);
    expect(out.choices[0]!.finish_reason).toBe('length');
    // <s> + 4 tokens of its own tokenizer; 40 new ones.
    expect(out.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 40, total_tokens: 45 });
    expect(e.countTokens(REFERENCE)).toBeGreaterThan(20);
    await e.dispose?.();
  }, 30_000);

  it('continues a story across turns; a system prompt is not part of a story', async () => {
    const e = await stories();
    const a = await collect(
      e.stream({
        messages: [
          { role: 'system', content: 'You are a helpful assistant.' },
          { role: 'user', content: 'Once upon a time' },
        ],
        max_tokens: 40,
      }),
    );
    expect(a.choices[0]!.message.content).toBe(REFERENCE);
    const b = await collect(
      e.stream({
        messages: [
          { role: 'user', content: 'Once upon a time' },
          { role: 'assistant', content: REFERENCE },
          { role: 'user', content: 'Lily ran to the ball.' },
        ],
        max_tokens: 20,
      }),
    );
    expect(b.usage.prompt_tokens).toBeGreaterThan(45);
    expect(b.choices[0]!.message.content!.length).toBeGreaterThan(10);
    await e.dispose?.();
  }, 30_000);

  it('decodes with its KV cache: one token per forward pass after the prompt (and the baseline without re-reads all)', async () => {
    const e = await stories();
    const req = { messages: [{ role: 'user' as const, content: 'Once upon a time' }], max_tokens: 40 };
    const a = await collect(e.stream(req));
    // 5 prompt tokens in one pass, then one new token per pass: 40 tokens need 40 passes.
    expect(a.usage.extra).toMatchObject({ forward_passes: 40, forward_tokens: 5 + 39 });
    const noCache = await createTransformersEngine({ model: 'stories260K', localModelPath, kvCache: false });
    const b = await collect(noCache.stream(req));
    // The same text, but every pass re-reads the whole sequence: 5 + 6 + … + 44.
    expect(b.choices[0]!.message.content).toBe(REFERENCE);
    expect(b.usage.extra).toMatchObject({ forward_passes: 40, forward_tokens: (40 * (5 + 44)) / 2 });
    await e.dispose?.();
    await noCache.dispose?.();
  }, 30_000);
});
