/**
 * Constrained decoding on real models in Node (transformers.js + onnxruntime-node, XGrammar's
 * WASM): stories260K — a story model that has never seen JSON — must write JSON that its schema
 * accepts, every time, and tool calls that the tools' own schemas accept.
 */
import { fileURLToPath } from 'node:url';
import { type Schema, Validator } from '@cfworker/json-schema';
import { describe, expect, it } from 'vitest';
import { type ChatEngine, collect, type ToolSpec } from '../../src/models/engine';
import { createTransformersEngine } from '../../src/models/engines/transformers';
import { vocabInfo } from '../../src/models/grammar/constrained';
import { withPromptedTools } from '../../src/models/tool-calling';

const localModelPath = fileURLToPath(new URL('../../public/models/', import.meta.url));
const load = (model: string) => createTransformersEngine({ model, localModelPath });

const WEATHER: ToolSpec = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
};

describe('constrained decoding (XGrammar) in the transformers.js driver', () => {
  it('writes JSON its schema accepts, on stories260K, with the grammar reported in usage', async () => {
    const e = await load('stories260K');
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: 'integer' }, happy: { type: 'boolean' } },
      required: ['name', 'age', 'happy'],
      additionalProperties: false,
    };
    const prompts = ['Once upon a time', 'Lily had a cat.', 'The sun was hot.'];
    for (const content of prompts) {
      const out = await collect(
        e.stream({
          messages: [{ role: 'user', content }],
          max_tokens: 120,
          response_format: { type: 'json_schema', json_schema: { name: 'kid', schema } },
        }),
      );
      const text = out.choices[0]!.message.content!;
      const value = JSON.parse(text);
      expect(new Validator(schema as Schema).validate(value).valid, text).toBe(true);
      expect(out.choices[0]!.finish_reason).toBe('stop');
      expect(out.usage.extra?.grammar_per_token_s).toBeGreaterThanOrEqual(0);
    }
    // Unconstrained, the same model writes a story, not JSON.
    const free = await collect(
      e.stream({ messages: [{ role: 'user', content: prompts[0]! }], max_tokens: 20 }),
    );
    expect(() => JSON.parse(free.choices[0]!.message.content!)).toThrow();
    await e.dispose?.();
  }, 60_000);

  it('json_object gives any valid JSON; a schema XGrammar cannot use is EINVAL', async () => {
    const e = await load('stories260K');
    const out = await collect(
      e.stream({
        messages: [{ role: 'user', content: 'Tom' }],
        max_tokens: 200,
        response_format: { type: 'json_object' },
      }),
    );
    expect(() => JSON.parse(out.choices[0]!.message.content!)).not.toThrow();
    const bad = await collect(
      e.stream({
        messages: [{ role: 'user', content: 'Tom' }],
        response_format: { type: 'json_schema', json_schema: { schema: { type: 'no-such-type' } } },
      }),
    ).catch((x: unknown) => x);
    expect((bad as { code?: string }).code).toBe('EINVAL');
    await e.dispose?.();
  }, 60_000);

  it('a schema the model cannot finish within max_tokens is E2BIG, not half a JSON', async () => {
    const e = await load('stories260K');
    const err = await collect(
      e.stream({
        messages: [{ role: 'user', content: 'Once upon a time' }],
        max_tokens: 3,
        response_format: {
          type: 'json_schema',
          json_schema: {
            schema: { type: 'object', properties: { story: { type: 'string' } }, required: ['story'] },
          },
        },
      }),
    ).catch((x: unknown) => x);
    expect((err as { code?: string }).code).toBe('E2BIG');
    // The engine serves the next request.
    const next = await collect(
      e.stream({ messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 5 }),
    );
    expect(next.usage.completion_tokens).toBe(5);
    await e.dispose?.();
  }, 60_000);

  const toolCalls = async (e: ChatEngine, n: number) => {
    const validate = new Validator(WEATHER.function.parameters as Schema);
    const tasks = [
      'What is the weather in Paris?',
      'Is it cold in Oslo?',
      'Once upon a time',
      'Tell me about Rome.',
    ];
    let valid = 0;
    for (let i = 0; i < n; i++) {
      const out = await collect(
        e.stream({
          messages: [{ role: 'user', content: tasks[i % tasks.length]! }],
          tools: [WEATHER],
          tool_choice: 'required',
          temperature: i < tasks.length ? 0 : 0.8,
          seed: i,
        }),
      );
      const calls = out.choices[0]!.message.tool_calls ?? [];
      if (
        out.choices[0]!.finish_reason === 'tool_calls' &&
        calls.length > 0 &&
        calls.every(
          (c) =>
            c.function.name === 'get_weather' && validate.validate(JSON.parse(c.function.arguments)).valid,
        )
      )
        valid++;
    }
    return valid;
  };

  it('gives schema-valid tool calls on stories260K through the prompted tools, every time', async () => {
    const e = withPromptedTools(await load('stories260K'));
    expect(await toolCalls(e, 20)).toBe(20);
    await e.dispose?.();
  }, 120_000);

  it('and on the random-weights model too (byte-level vocabulary)', async () => {
    // Its bytes are tokens and its window 512: the prompted tools' long prompt would not leave room.
    const e = await load('agentos-tiny');
    const schema = {
      type: 'object',
      properties: { ok: { type: 'boolean' }, n: { type: 'integer' } },
      required: ['ok', 'n'],
    };
    for (let i = 0; i < 3; i++) {
      const out = await collect(
        e.stream({
          messages: [{ role: 'user', content: `try ${i}` }],
          max_tokens: 60,
          temperature: 0.9,
          seed: i,
          response_format: { type: 'json_schema', json_schema: { schema } },
        }),
      );
      const text = out.choices[0]!.message.content!;
      expect(new Validator(schema as Schema).validate(JSON.parse(text)).valid, text).toBe(true);
    }
    await e.dispose?.();
  }, 60_000);
});

describe('vocabInfo', () => {
  it('reads the vocabulary type and the word-start prefix from tokenizer.json', () => {
    const vocab = new Map([
      ['<unk>', 0],
      ['▁a', 1],
    ]);
    const sp = vocabInfo(
      {
        model: { byte_fallback: true },
        normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }] },
      },
      vocab,
      4,
      [0],
    );
    expect(sp).toMatchObject({ vocabType: 'byte_fallback', prependSpace: true, vocabSize: 4 });
    expect(sp.tokens).toEqual(['<unk>', '▁a', '', '']);
    const gpt2 = vocabInfo(
      { decoder: { type: 'ByteLevel' }, pre_tokenizer: { type: 'ByteLevel' } },
      vocab,
      2,
      [1],
    );
    expect(gpt2).toMatchObject({ vocabType: 'byte_level', prependSpace: false });
    expect(vocabInfo({}, vocab, 2, []).vocabType).toBe('raw');
  });
});
