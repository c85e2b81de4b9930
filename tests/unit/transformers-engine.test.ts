/**
 * The transformers.js chat driver against the shared engine contract, on the
 * project's own tiny model (scripts/make-tiny-model.mjs → public/models/agentos-tiny),
 * with real transformers.js and onnxruntime (Node's). The browser run, in an
 * engine worker through the kernel, is e2e/transformers-engine.spec.ts.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { collect } from '../../src/models/engine';
import { createTransformersEngine } from '../../src/models/engines/transformers';
import { withPromptedTools } from '../../src/models/tool-calling';
import { defineEngineContract } from '../contract/engine-contract';

const localModelPath = fileURLToPath(new URL('../../public/models/', import.meta.url));
const tiny = () => createTransformersEngine({ model: 'agentos-tiny', localModelPath });

// The tiny model holds 512 tokens of one byte each: the long request must fit.
const longRequest = {
  messages: [{ role: 'user' as const, content: `say ${'tokens stream one after another '.repeat(3)}` }],
  temperature: 0,
};

defineEngineContract('transformers.js (agentos-tiny, onnxruntime)', tiny, {
  longRequest,
  unknownModel: () => createTransformersEngine({ model: 'no-such-model', localModelPath }),
  timeoutMs: 30_000,
});

describe('transformers.js driver details', () => {
  it('reports the model’s context window and refuses a prompt beyond it with EINVAL', async () => {
    const e = await tiny();
    expect(e.info.contextWindow).toBe(512);
    expect(e.countTokens('hello world')).toBe(11); // byte-level, no merges
    const err = await collect(e.stream({ messages: [{ role: 'user', content: 'x'.repeat(600) }] })).catch(
      (x: unknown) => x,
    );
    expect((err as { code?: string }).code).toBe('EINVAL');
    // Near the end of the window the answer is cut there, as 'length'.
    const near = await collect(
      e.stream({ messages: [{ role: 'user', content: 'x'.repeat(490) }], max_tokens: 100 }),
    );
    expect(near.choices[0]!.finish_reason).toBe('length');
    expect(near.usage.prompt_tokens + near.usage.completion_tokens).toBeLessThanOrEqual(512);
    await e.dispose?.();
  }, 30_000);

  it('serves one generation at a time, in order, and ends at a stop sequence', async () => {
    const e = await tiny();
    const req = { messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 12, temperature: 0 };
    const [a, b] = await Promise.all([collect(e.stream(req)), collect(e.stream(req))]);
    expect(a.choices[0]!.message.content).toBe(b.choices[0]!.message.content);
    const text = a.choices[0]!.message.content!;
    const cut = text.slice(3, 5);
    const stopped = await collect(e.stream({ ...req, stop: [cut] }));
    expect(stopped.choices[0]!.message.content).toBe(text.slice(0, text.indexOf(cut)));
    expect(stopped.choices[0]!.finish_reason).toBe('stop');
    await e.dispose?.();
  }, 30_000);

  it('works with tools through the prompted-tools layer (the answer parsed, whatever the model says)', async () => {
    const e = withPromptedTools(await tiny());
    const out = await collect(
      e.stream({
        messages: [{ role: 'user', content: 'what time is it?' }],
        tools: [{ type: 'function', function: { name: 'time_now', parameters: { type: 'object' } } }],
        max_tokens: 40,
      }),
    );
    // A random-weight model rarely writes a valid call; either way the result is well formed.
    expect(['stop', 'length', 'tool_calls']).toContain(out.choices[0]!.finish_reason);
    expect(out.usage.completion_tokens).toBeGreaterThan(0);
    await e.dispose?.();
  }, 30_000);
});

describe('the kernel’s tokenizer for hosted models (loadTokenizer)', () => {
  const files = (map: Record<string, string | null>) =>
    (async (url: string | URL | Request) => {
      const name = String(url).split('/').pop()!;
      const body = map[name];
      return body === null || body === undefined
        ? new Response('<!doctype html><html></html>', { status: name in map ? 404 : 200 })
        : new Response(body);
    }) as typeof fetch;
  const dir = fileURLToPath(new URL('../../public/models/agentos-tiny/', import.meta.url));

  it('counts with the model’s own tokenizer.json, as transformers.js does', async () => {
    const { readFile } = await import('node:fs/promises');
    const { loadTokenizer } = await import('../../src/models/tokenizer');
    const count = await loadTokenizer(
      'http://x/models/agentos-tiny/',
      files({
        'tokenizer.json': await readFile(`${dir}tokenizer.json`, 'utf8'),
        'tokenizer_config.json': await readFile(`${dir}tokenizer_config.json`, 'utf8'),
      }),
    );
    const e = await tiny();
    for (const t of ['hello world', 'héllo — ünïcode ✓', '  spaces\n\nand lines  '])
      expect(count(t)).toBe(e.countTokens(t));
    await e.dispose?.();
  }, 30_000);

  it('answers a missing model with ENOENT, whether the host says 404 or serves index.html', async () => {
    const { loadTokenizer } = await import('../../src/models/tokenizer');
    for (const f of [files({ 'tokenizer.json': null }), files({})]) {
      const err = await loadTokenizer('http://x/models/nope/', f).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('ENOENT');
    }
  });
});
